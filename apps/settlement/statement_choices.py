"""Enumerations of settlement statements (labels in Chinese, the source language)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ISSUED = "issued", _("已出账")
    CONFIRMED = "confirmed", _("已确认")
    DISPUTED = "disputed", _("有异议")
    PAID = "paid", _("已付款")


class PayoutRoute(models.TextChoices):
    """How the net payable reaches the merchant: the payment rail (Alipay royalty settle) where
    it can carry it, otherwise the bank transfer file; `none` when nothing is payable."""

    ALIPAY = "alipay", _("支付宝分账")
    BANK = "bank", _("银行转账文件")
    NONE = "none", _("无需付款")


class LineSection(models.TextChoices):
    """What a statement line aggregates. Split lines are grouped by sale/refund, party, kind;
    clearing lines by role; rent and the guaranteed-minimum top-up come from the contract."""

    SALE = "sale", _("销售")
    REFUND = "refund", _("退款")
    POINTS = "points", _("积分清算")
    RENT = "rent", _("租金")
    MINIMUM_TOPUP = "minimum_topup", _("保底补差")
