"""Enumerations of the reconciliation app (labels in Chinese, the source language)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class BillChannel(models.TextChoices):
    ALIPAY = "alipay", _("支付宝")
    WECHAT = "wechat", _("微信支付")


class RunStatus(models.TextChoices):
    BALANCED = "balanced", _("已平")
    BREAKS = "breaks", _("有差异")


class BreakKind(models.TextChoices):
    MISSING_OURS = "missing_ours", _("我方缺失")  # in the bill, not recorded here
    MISSING_THEIRS = "missing_theirs", _("渠道缺失")  # recorded here, not in the bill
    AMOUNT_MISMATCH = "amount_mismatch", _("金额不符")


class LineKind(models.TextChoices):
    PAYMENT = "payment", _("支付")
    REFUND = "refund", _("退款")
