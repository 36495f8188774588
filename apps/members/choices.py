"""Enumerations of the members app (labels in Chinese, the source language)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Gender(models.TextChoices):
    UNKNOWN = "unknown", _("未知")
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class RegistrationChannel(models.TextChoices):
    APP = "app", _("会员应用")
    WECHAT = "wechat", _("微信小程序")
    ALIPAY = "alipay", _("支付宝小程序")
    TILL = "till", _("商户收银")
    IMPORT = "import", _("导入")
    RECEIPT = "receipt", _("小票积分")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    MERGED = "merged", _("已合并")
    CLOSED = "closed", _("已注销")


class IdentityKind(models.TextChoices):
    PHONE = "phone", _("手机号")
    WECHAT_OPENID = "wechat_openid", _("微信 openid")
    WECHAT_UNIONID = "wechat_unionid", _("微信 unionid")
    ALIPAY_USER = "alipay_user", _("支付宝用户")
    CARD = "card", _("会员卡号")
    PLATE = "plate", _("车牌")


class ConsentKind(models.TextChoices):
    DATA_PROCESSING = "data_processing", _("个人信息处理")
    MARKETING = "marketing", _("营销信息")
    THIRD_PARTY_SHARING = "third_party_sharing", _("向商户提供个人信息")


class ConsentSource(models.TextChoices):
    APP = "app", _("会员应用")
    WECHAT = "wechat", _("微信小程序")
    TILL = "till", _("商户收银")
    IMPORT = "import", _("导入")
    CONSOLE = "console", _("运营后台")
    MERGE = "merge", _("会员合并")
    CLOSING = "closing", _("账户注销")
