from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    MEMBERS = "members", _("会员")
    SALES = "sales", _("销售")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


FINISHED = frozenset({ImportStatus.DONE, ImportStatus.FAILED})
