from django.db import models
from django.utils.translation import gettext_lazy as _


class TenantKind(models.TextChoices):
    MALL = "mall", _("购物中心")
    DEPARTMENT_STORE = "department_store", _("百货商场")
    OUTLET = "outlet", _("奥特莱斯")
    COMMERCIAL_STREET = "commercial_street", _("商业街")


class TenantStatus(models.TextChoices):
    ACTIVE = "active", _("运营中")
    SUSPENDED = "suspended", _("已暂停")
    ARCHIVED = "archived", _("已归档")


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("进行中")
    READY = "ready", _("已完成")
    FAILED = "failed", _("失败")
