"""Template helpers of the shared look: the tenant's brand colours and monograms."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from atrium.web import brand_palette

register = template.Library()


@register.simple_tag
def brand_style(color: str | None = None) -> SafeString:
    """`:root` CSS variables for a brand colour (validated; the default when malformed)."""
    palette = brand_palette(color)
    return format_html(
        "<style>:root{{--brand:{};--on-brand:{}}}</style>", palette.color, palette.on_color
    )


@register.filter
def monogram(name: object) -> str:
    """The first letter of a name, for a logo placeholder: 「演示广场」 -> 演, Mall -> M."""
    text = str(name or "").strip()
    return text[:1].upper() if text else "·"


@register.filter
def brand_color(color: object) -> str:
    """A stored colour as `#RRGGBB`, or the default: safe inside a `style` attribute."""
    return brand_palette(str(color or "")).color


@register.filter
def on_brand_color(color: object) -> str:
    """White or ink, whichever reads better on the colour."""
    return brand_palette(str(color or "")).on_color


@register.filter
def plain_number(value: object) -> str:
    """A decimal without trailing zeros: 1.20 -> 1.2, 1.0000 -> 1 (multipliers, rates)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{number.normalize():f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
