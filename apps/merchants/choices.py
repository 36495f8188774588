"""Enumerations of the merchants app (labels in Chinese, the source language)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MerchantStatus(models.TextChoices):
    ACTIVE = "active", _("营业中")
    SUSPENDED = "suspended", _("暂停")
    CLOSED = "closed", _("已撤场")


class ContractKind(models.TextChoices):
    CONCESSION = "concession", _("联营扣点")
    FIXED_RENT = "fixed_rent", _("固定租金")
    RENT_PLUS_COMMISSION = "rent_plus_commission", _("租金加扣点")
    GUARANTEED_MINIMUM = "guaranteed_minimum", _("保底扣点")


class SettlementCycle(models.TextChoices):
    DAILY = "daily", _("T+1 日结")
    WEEKLY = "weekly", _("周结")
    MONTHLY = "monthly", _("月结")


class PayoutMethod(models.TextChoices):
    ALIPAY = "alipay", _("支付宝")
    BANK = "bank", _("银行转账")


# The formats a new mall starts with (operators add, rename and retire them); codes are stable.
DEFAULT_BUSINESS_FORMATS: tuple[tuple[str, str], ...] = (
    ("retail", "零售"),
    ("fnb", "餐饮"),
    ("entertainment", "娱乐"),
    ("services", "服务"),
    ("supermarket", "超市"),
    ("fashion", "服饰"),
    ("kids", "儿童"),
    ("cinema", "影院"),
)
