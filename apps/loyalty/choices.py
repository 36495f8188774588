from django.db import models
from django.utils.translation import gettext_lazy as _


class TierEvaluation(models.TextChoices):
    ROLLING_12_MONTHS = "rolling_12_months", _("滚动12个月")
    CALENDAR_YEAR = "calendar_year", _("自然年")


class EntryKind(models.TextChoices):
    EARN = "earn", _("获得")
    REDEEM = "redeem", _("使用")
    EXPIRE = "expire", _("过期")
    ADJUST = "adjust", _("调整")
    REVERSE = "reverse", _("冲销")
    MERGE = "merge", _("合并")
    FORFEIT = "forfeit", _("注销作废")


class LedgerAccount(models.TextChoices):
    MEMBER = "member", _("会员")
    ISSUED = "issued", _("发放")
    REDEEMED = "redeemed", _("兑换")
    EXPIRED = "expired", _("过期")
    ADJUSTED = "adjusted", _("调整")
    REVERSED = "reversed", _("冲销")
    FORFEITED = "forfeited", _("注销作废")


class LotSource(models.TextChoices):
    SALE = "sale", _("消费")
    BEHAVIOUR = "behaviour", _("行为")
    ADJUSTMENT = "adjustment", _("调整")


class RuleKind(models.TextChoices):
    RATE = "rate", _("积分比例")
    MULTIPLIER = "multiplier", _("倍数")
    EXCLUSION = "exclusion", _("不积分")
    CAP = "cap", _("上限")


class RuleStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    RETIRED = "retired", _("已停用")


class Behaviour(models.TextChoices):
    SIGN_UP = "sign_up", _("注册")
    CHECK_IN = "check_in", _("每日签到")
    PROFILE_COMPLETED = "profile_completed", _("完善资料")
    REFERRAL_REFERRER = "referral_referrer", _("推荐好友")
    REFERRAL_REFEREE = "referral_referee", _("受邀注册")
    EVENT_CHECK_IN = "event_check_in", _("活动签到")
    STEPS = "steps", _("步数")
    CALORIES = "calories", _("卡路里")


class AdjustmentStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPLIED = "applied", _("已生效")
    REJECTED = "rejected", _("已驳回")


NON_EARNING_METHODS = frozenset({"points", "coupon", "stored_value"})
