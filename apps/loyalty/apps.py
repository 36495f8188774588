from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _program_changed(**_: Any) -> None:
    from apps.loyalty.selectors import program_changing

    program_changing()


class LoyaltyConfig(AppConfig):
    name = "apps.loyalty"
    label = "loyalty"
    verbose_name = "Loyalty program"

    def ready(self) -> None:
        from apps.loyalty.models import EarningRule, Tier

        for model in (EarningRule, Tier):
            post_save.connect(_program_changed, sender=model, dispatch_uid=f"program:{model}")
            post_delete.connect(_program_changed, sender=model, dispatch_uid=f"program:{model}:d")
