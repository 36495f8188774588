from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffRole(models.TextChoices):
    OWNER = "owner", _("所有者")
    ADMIN = "admin", _("管理员")
    MARKETING = "marketing", _("市场")
    FINANCE = "finance", _("财务")
    CUSTOMER_SERVICE = "customer_service", _("客服")
    MERCHANT_MANAGER = "merchant_manager", _("商户店长")
    MERCHANT_CASHIER = "merchant_cashier", _("商户收银员")


MALL_ROLES = frozenset(
    {
        StaffRole.OWNER,
        StaffRole.ADMIN,
        StaffRole.MARKETING,
        StaffRole.FINANCE,
        StaffRole.CUSTOMER_SERVICE,
    }
)
MERCHANT_ROLES = frozenset({StaffRole.MERCHANT_MANAGER, StaffRole.MERCHANT_CASHIER})


class SubjectKind(models.TextChoices):
    STAFF = "staff", "staff"
    MEMBER = "member", "member"
