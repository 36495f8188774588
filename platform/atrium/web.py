"""Helpers shared by the server-rendered surfaces: provider console, tenant console, merchant
portal and member app (brand colours, user-facing error text, refusal pages, safe redirects)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from atrium.crypto import decrypt, encrypt
from atrium.errors import DomainError

COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
DEFAULT_BRAND_COLOR = "#B8860B"
_INK = "#141A26"
_WHITE = "#FFFFFF"


@dataclass(frozen=True)
class BrandPalette:
    """A tenant's primary colour and the text colour that stays readable on it."""

    color: str
    on_color: str


def _luminance(color: str) -> float:
    """WCAG relative luminance of `#RRGGBB`."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(color[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def brand_palette(color: str | None) -> BrandPalette:
    """The brand colour (the default when it is not `#RRGGBB`) and white or ink text for it."""
    brand = color.upper() if color and COLOR_RE.match(color) else DEFAULT_BRAND_COLOR
    on_color = _WHITE if _contrast(brand, _WHITE) >= _contrast(brand, _INK) else _INK
    return BrandPalette(color=brand, on_color=on_color)


# What a person reads when a service refuses: the API keeps the English message and the code.
USER_MESSAGES: dict[str, Promise] = {
    "auth.invalid_credentials": _("用户名或密码错误。"),
    "auth.throttled": _("登录失败次数过多，请稍后再试。"),
    "auth.invitation_invalid": _("邀请链接无效或已过期，请联系管理员重新邀请。"),
    "auth.weak_password": _("密码强度不够。"),
    "auth.forbidden": _("你的角色无权执行此操作。"),
    "auth.api_key_revoked": _("该密钥已吊销。"),
    "staff.username_taken": _("该用户名已被使用。"),
    "staff.role_not_allowed": _(
        "角色与账号类型不符：商场员工不关联商户，商户员工必须选择所属商户。"
    ),
    "staff.last_owner": _("商场至少要保留一位在职的所有者。"),
    "staff.not_found": _("没有找到该员工。"),
    "merchant.not_found": _("没有找到该商户。"),
    "merchant.api_key_not_found": _("没有找到该密钥。"),
    "tenant.not_found": _("没有找到这个商场。"),
    "tenant.export_not_found": _("没有找到该导出文件。"),
    "tenant.slug_invalid": _("标识须为 3–40 位小写字母、数字或单个连字符，且不能是保留词。"),
    "tenant.slug_taken": _("该标识已被使用。"),
    "tenant.invalid_state": _("当前状态下不能执行此操作。"),
    "tenant.backup_failed": _("导出失败，请查看服务器日志。"),
    "tenant.template_stale": _("模板 schema 不是最新的，请先运行 migrate_schemas。"),
    "idempotency.conflict": _("这个单号已用于另一笔内容不同的记录。"),
    "members.not_found": _("没有找到该会员。"),
    "members.not_active": _("该会员账户已合并或注销。"),
    "members.phone_invalid": _("请输入有效的 11 位中国大陆手机号。"),
    "members.identity_invalid": _("卡号或标识格式不正确。"),
    "members.identity_taken": _("该标识已属于另一位会员。"),
    "members.profile_invalid": _("资料填写有误，请检查。"),
    "members.birthday_locked": _("生日设置后不能自行修改，如需更正请联系服务台。"),
    "members.consent_invalid": _("授权项无效。"),
    "members.otp_invalid": _("验证码不正确，请重新输入。"),
    "members.otp_expired": _("验证码已失效，请重新获取。"),
    "members.otp_attempts_exceeded": _("验证码输错次数过多，请重新获取。"),
    "members.otp_rate_limited": _("验证码发送太频繁，请稍后再试。"),
    "members.code_invalid": _("会员码无效，请让会员刷新后重新出示。"),
    "members.code_expired": _("会员码已过期，请让会员刷新后重新出示。"),
    "members.code_reused": _("这个会员码已经用过了，请让会员刷新后重新出示。"),
    "members.import_invalid": _(
        "文件无法导入：请使用带表头（含手机号列）的 CSV 文件，最多 5000 行。"
    ),
    "sales.import_invalid": _(
        "文件无法导入：请使用带表头（含小票号、交易时间、金额列）的 CSV 文件，最多 5000 行。"
    ),
    "imports.invalid": _("导入销售须选择商户，导入会员无须选择商户。"),
    "imports.not_found": _("没有找到该导入任务。"),
    "sms.unavailable": _("短信暂时发送失败，请稍后再试。"),
    "sales.invalid": _("消费信息填写有误，请检查。"),
    "sales.invalid_amount": _("金额格式不正确：最多两位小数，且须大于 0。"),
    "sales.total_mismatch": _("支付金额与消费总额不符。"),
    "sales.member_ref_invalid": _("请只填写会员码或手机号中的一项。"),
    "sales.not_found": _("没有找到该消费记录。"),
    "sales.refund_exceeds_sale": _("退款金额超过了可退金额。"),
    "sales.receipt_not_found": _("没有找到该小票。"),
    "sales.receipt_invalid": _("小票信息有误：请检查小票号和日期（30 天内）。"),
    "sales.receipt_photo_invalid": _("照片须为 10 MB 以内的 JPEG、PNG 或 WebP 图片。"),
    "sales.receipt_duplicate": _("这张小票已经提交过了。"),
    "sales.receipt_decided": _("这张小票已经审核过了。"),
    "loyalty.invalid_points": _("积分数量无效。"),
    "loyalty.insufficient_points": _("会员积分不足。"),
    "loyalty.adjustment_not_found": _("没有找到该调整申请。"),
    "loyalty.adjustment_decided": _("该调整申请已处理过了。"),
    "loyalty.second_approver_required": _("需要另一位运营审批，申请人不能审批自己的申请。"),
    "loyalty.rule_not_found": _("没有找到该规则。"),
    "loyalty.rule_invalid": _("规则无效：请检查比例、倍数、上限和日期。"),
    "loyalty.tier_invalid": _(
        "等级无效：顺序不能重复，升级成长值须随顺序递增，保级成长值不能高于升级成长值。"
    ),
    "loyalty.member_inactive": _("该会员账户已合并或注销。"),
}
FALLBACK_MESSAGE = _("操作未能完成，请重试。")


def user_message(error: DomainError) -> str:
    """A translated, human sentence for a domain error (its stable code picks it)."""
    return str(USER_MESSAGES.get(error.code, FALLBACK_MESSAGE))


def error_details(error: DomainError) -> list[str]:
    """Extra lines worth showing (the password validators' reasons)."""
    reasons = error.extra.get("reasons")
    return [str(reason) for reason in reasons] if isinstance(reasons, list) else []


def render_refusal(
    request: HttpRequest,
    *,
    status: int,
    message: str | Promise,
    home_url: str = "/",
    base_template: str = "atrium/page.html",
) -> HttpResponse:
    """A 403/404 page in the surface's own look (the tenant middleware renders its own)."""
    return render(
        request,
        "atrium/refusal.html",
        {
            "status": status,
            "message": message,
            "home_url": home_url,
            "base_template": base_template,
        },
        status=status,
    )


_ONCE_PREFIX = "atrium.once."


def show_once(request: HttpRequest, name: str, value: Mapping[str, str]) -> None:
    """Keep a just-created secret (an invitation link, a key secret) for the next page only.

    The POST that created it redirects (so a reload never creates another); the page it redirects
    to takes it back with `take_once`. It waits in the session encrypted, for one request.
    """
    request.session[_ONCE_PREFIX + name] = encrypt(json.dumps(dict(value)))


def take_once(request: HttpRequest, name: str) -> dict[str, str] | None:
    """The value `show_once` kept, removed from the session; None when there is none."""
    sealed = request.session.pop(_ONCE_PREFIX + name, None)
    if not isinstance(sealed, str):
        return None
    try:
        value = json.loads(decrypt(sealed))
    except (InvalidToken, ValueError):
        return None
    return value if isinstance(value, dict) else None


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """The `next` parameter when it points back into this host, otherwise the fallback."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if candidate.startswith("/") and allowed else fallback
