"""Enumerations of the clearing app (labels in Chinese, the source language)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ClearingRole(models.TextChoices):
    ACCEPTOR = "acceptor", _("受理方")  # took points as payment: +amount
    FUNDER = "funder", _("出资方")  # pays for the points it funded: -amount
    RELEASE = "release", _("过期释放")  # reserved: expiry writes no line (see models.py)


class FundingSource(models.TextChoices):
    """Who funds points a merchant issued (mall-granted points are always mall-funded)."""

    MERCHANT = "merchant", _("发放商户")
    MALL = "mall", _("商场")
    SHARED = "shared", _("按比例分摊")
