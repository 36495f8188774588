"""Forms of the provider console: they parse and validate input; services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.choices import TenantKind

COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
USERNAME_PATTERN = r"^[A-Za-z0-9_.@+-]+$"


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class OnboardingForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=200)
    slug = forms.CharField(
        label=_("标识"),
        min_length=3,
        max_length=40,
        help_text=_("用于网址（标识.平台域名）：小写字母、数字和连字符。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    kind = forms.ChoiceField(label=_("类型"), choices=TenantKind.choices, initial=TenantKind.MALL)
    display_name = forms.CharField(
        label=_("展示名称"),
        max_length=200,
        required=False,
        help_text=_("会员应用中显示的名称；留空则使用名称。"),
    )
    primary_color = forms.RegexField(
        label=_("主色"),
        regex=COLOR_PATTERN,
        initial="#B8860B",
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    operator_username = forms.RegexField(
        label=_("负责人用户名"),
        regex=USERNAME_PATTERN,
        min_length=2,
        max_length=150,
        help_text=_("商场的第一位所有者，通过邀请链接设置密码。"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    operator_email = forms.EmailField(label=_("负责人邮箱"), required=False)


class BrandingForm(forms.Form):
    display_name = forms.CharField(label=_("展示名称"), max_length=200, required=False)
    logo_url = forms.URLField(
        label=_("标志图片地址"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("https 开头的图片地址，建议正方形。"),
    )
    primary_color = forms.RegexField(
        label=_("主色"), regex=COLOR_PATTERN, widget=forms.TextInput(attrs={"type": "color"})
    )
