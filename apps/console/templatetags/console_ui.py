"""Template helpers of the tenant's pages: readable names of ledger entries."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from apps.loyalty.choices import Behaviour, EntryKind
from apps.loyalty.models import GrowthEntry, JournalEntry

register = template.Library()


@register.filter
def entry_title(entry: JournalEntry) -> str:
    """What a points movement was, in the reader's language (the ledger keeps English reasons)."""
    source = entry.source_type or ""
    if source.startswith(("behaviour:", "activity:")):
        behaviour = source.split(":")[1]
        if behaviour in Behaviour.values:
            return str(Behaviour(behaviour).label)
    titles: dict[str, str] = {
        EntryKind.EARN: _("消费积分") if source == "sale" else _("获得积分"),
        EntryKind.REDEEM: _("积分使用"),
        EntryKind.EXPIRE: _("积分过期"),
        EntryKind.ADJUST: _("积分调整"),
        EntryKind.REVERSE: _("退款扣回"),
        EntryKind.MERGE: _("账户合并"),
        EntryKind.FORFEIT: _("注销作废"),
    }
    return titles.get(entry.kind, entry.get_kind_display())


@register.filter
def growth_title(entry: GrowthEntry) -> str:
    """What a growth change was."""
    titles = {
        "sale": _("消费"),
        "refund": _("退款"),
        "merged away": _("账户合并"),
    }
    return str(titles.get(entry.reason, entry.reason))


@register.filter
def signed(value: int) -> str:
    """+12 / -3 / 0 for points."""
    return f"{value:+,d}" if value else "0"


@register.filter
def lookup(mapping: dict[str, str], key: str) -> str:
    """`mapping[key]`, or the key itself (staff names by actor)."""
    return mapping.get(key, key) if key else "—"
