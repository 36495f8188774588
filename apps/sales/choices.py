"""Enumerations of the sales app (labels in Chinese, the source language)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    POS = "pos", _("收银系统")
    PORTAL = "portal", _("商户后台收银")
    IMPORT = "import", _("导入")
    RECEIPT = "receipt", _("小票积分")


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("现金")
    CARD = "card", _("银行卡")
    ALIPAY = "alipay", _("支付宝")
    WECHAT = "wechat", _("微信支付")
    POINTS = "points", _("积分抵扣")
    COUPON = "coupon", _("优惠券")
    STORED_VALUE = "stored_value", _("储值卡")


class SaleStatus(models.TextChoices):
    RECORDED = "recorded", _("已记录")
    PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")
    REFUNDED = "refunded", _("已全额退款")


class ReceiptStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已驳回")


class MemberRefKind(models.TextChoices):
    """How the member of a sale was identified."""

    NONE = "", _("非会员")
    CODE = "code", _("会员码")
    PHONE = "phone", _("手机号")
    MEMBER_NO = "member_no", _("会员号")
    DIRECT = "direct", _("会员本人")
