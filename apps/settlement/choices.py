"""Enumerations of the settlement app (labels in Chinese, the source language)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Party(models.TextChoices):
    MERCHANT = "merchant", _("商户")
    MALL = "mall", _("商场")
    CHANNEL = "channel", _("支付渠道")
    PLATFORM = "platform", _("平台")


class LineKind(models.TextChoices):
    """What a split line is. Every kind but `subsidy` allocates the sale's money (they sum to the
    sale's total); a subsidy is a pair of lines (+X merchant, -X mall) summing to zero."""

    MERCHANT_SHARE = "merchant_share", _("商户所得")
    COMMISSION = "commission", _("扣点佣金")
    CHANNEL_FEE = "channel_fee", _("支付手续费")
    PLATFORM_FEE = "platform_fee", _("平台服务费")
    SUBSIDY = "subsidy", _("商场补贴")


ALLOCATING_KINDS = frozenset(
    {LineKind.MERCHANT_SHARE, LineKind.COMMISSION, LineKind.CHANNEL_FEE, LineKind.PLATFORM_FEE}
)


class RuleKind(models.TextChoices):
    """What a split rule sets, as a rate of the matched money."""

    COMMISSION = "commission", _("扣点（覆盖合同）")
    CHANNEL_FEE = "channel_fee", _("支付手续费")
    PLATFORM_FEE = "platform_fee", _("平台服务费")
    SUBSIDY = "subsidy", _("商场补贴（优惠券/折扣）")


class RuleStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
