"""Forms of the tenant's pages: they parse input; services apply the rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.accounts.choices import StaffRole
from apps.loyalty.choices import RuleKind
from apps.members.choices import Gender
from apps.members.errors import PhoneInvalidError
from apps.members.identities import normalize_phone
from apps.merchants.choices import ContractKind, MerchantStatus, PayoutMethod, SettlementCycle
from apps.sales.choices import PaymentMethod
from apps.settlement.choices import RuleKind as SplitRuleKind

USERNAME_PATTERN = r"^[A-Za-z0-9_.@+-]+$"
# Until the merchants app has its own list of business formats: the ones the demo and POS use.
BUSINESS_FORMATS: tuple[tuple[str, Promise], ...] = (
    ("retail", _("零售")),
    ("fnb", _("餐饮")),
    ("entertainment", _("娱乐")),
    ("supermarket", _("超市")),
    ("service", _("生活服务")),
)


def business_format_label(value: str) -> str:
    """The readable name of a business format (the stored value when it is not a known one)."""
    return str(dict(BUSINESS_FORMATS).get(value, value))


class StaffLoginForm(forms.Form):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}
        ),
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SetPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("设置密码"),
        strip=False,
        help_text=_("至少 8 位，不要只用数字或常见密码。"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    password_confirm = forms.CharField(
        label=_("再输入一次"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_confirm"):
            self.add_error("password_confirm", _("两次输入的密码不一致。"))
        return data


class InviteStaffForm(forms.Form):
    username = forms.RegexField(
        label=_("用户名"),
        regex=USERNAME_PATTERN,
        min_length=2,
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    display_name = forms.CharField(label=_("姓名"), max_length=150, required=False)
    email = forms.EmailField(label=_("邮箱"), required=False)
    role = forms.ChoiceField(label=_("角色"))
    merchant = forms.ChoiceField(label=_("所属商户"), required=False)

    def __init__(
        self,
        *args: Any,
        roles: Sequence[tuple[str, str]],
        merchants: Sequence[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # No role is preselected: granting one (above all the owner's) is a deliberate choice.
        cast(forms.ChoiceField, self.fields["role"]).choices = [("", _("请选择角色")), *roles]
        cast(forms.ChoiceField, self.fields["merchant"]).choices = [
            ("", _("（不关联商户）")),
            *merchants,
        ]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=StaffRole.choices)


class MerchantForm(forms.Form):
    name = forms.CharField(label=_("商户名称"), max_length=200)
    unit = forms.CharField(label=_("铺位号"), max_length=32, required=False)
    business_format = forms.ChoiceField(
        label=_("业态"),
        choices=BUSINESS_FORMATS,
        initial="retail",
    )
    brand = forms.CharField(label=_("品牌"), max_length=100, required=False)
    floor = forms.CharField(label=_("楼层"), max_length=16, required=False)
    contact_name = forms.CharField(label=_("联系人"), max_length=64, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)


class MerchantEditForm(MerchantForm):
    status = forms.ChoiceField(label=_("状态"), choices=MerchantStatus.choices)


class ContractForm(forms.Form):
    kind = forms.ChoiceField(label=_("合同类型"), choices=ContractKind.choices)
    commission_rate = forms.DecimalField(
        label=_("扣点率（如 0.18）"), min_value=0, max_value=1, decimal_places=4, initial="0"
    )
    rent_amount = forms.DecimalField(
        label=_("月租金（元）"), min_value=0, decimal_places=2, max_digits=14, initial="0"
    )
    minimum_amount = forms.DecimalField(
        label=_("保底金额（元/期）"), min_value=0, decimal_places=2, max_digits=14, initial="0"
    )
    cycle = forms.ChoiceField(label=_("结算周期"), choices=SettlementCycle.choices)
    payout_method = forms.ChoiceField(label=_("收款方式"), choices=PayoutMethod.choices)
    payout_account_name = forms.CharField(label=_("收款户名"), max_length=100, required=False)
    payout_account = forms.CharField(label=_("收款账号"), max_length=64, required=False)
    effective_from = forms.DateField(label=_("生效日期"))


class SplitRuleForm(forms.Form):
    name = forms.CharField(label=_("规则名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=SplitRuleKind.choices)
    rate = forms.DecimalField(
        label=_("比例（如 0.006）"), min_value=0, max_value=1, decimal_places=4
    )
    priority = forms.IntegerField(
        label=_("优先级"), initial=0, min_value=-1_000_000, max_value=1_000_000
    )
    business_format = forms.CharField(
        label=_("业态代码（空 = 全部）"), max_length=32, required=False
    )
    category = forms.CharField(label=_("品类（空 = 全部）"), max_length=64, required=False)
    payment_method = forms.ChoiceField(
        label=_("支付方式"), choices=[("", _("全部")), *PaymentMethod.choices], required=False
    )
    campaign = forms.CharField(label=_("活动代码（空 = 全部）"), max_length=64, required=False)
    effective_from = forms.DateField(label=_("生效日期"))


class SplitPreviewForm(forms.Form):
    merchant = forms.ChoiceField(label=_("商户"))
    total = forms.DecimalField(
        label=_("金额（元）"), min_value=Decimal("0.01"), decimal_places=2, max_digits=14
    )
    payment_method = forms.ChoiceField(label=_("支付方式"), choices=PaymentMethod.choices)
    category = forms.CharField(label=_("品类"), max_length=64, required=False)
    campaign = forms.CharField(label=_("活动代码"), max_length=64, required=False)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("密钥名称"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("例如：1 号收银台")}),
    )


# --- the member app -------------------------------------------------------------------------


def _phone_field() -> forms.CharField:
    return forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "type": "tel",
                "inputmode": "numeric",
                "autocomplete": "tel-national",
                "placeholder": _("11 位手机号"),
                "autofocus": True,
            }
        ),
    )


class MemberPhoneForm(forms.Form):
    """Step one of joining or signing in: the phone to text a code to, and the agreement."""

    phone = _phone_field()
    agree = forms.BooleanField(
        label=_("我已阅读并同意《会员服务协议》和《个人信息处理规则》"),
        error_messages={"required": _("请先阅读并同意会员服务协议和个人信息处理规则。")},
    )
    marketing = forms.BooleanField(
        label=_("接收优惠活动和积分提醒（短信、推送，可随时退订）"), required=False
    )

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except PhoneInvalidError as exc:
            raise forms.ValidationError(_("请输入有效的 11 位中国大陆手机号。")) from exc


class MemberOtpForm(forms.Form):
    otp = forms.RegexField(
        label=_("短信验证码"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("验证码是 6 位数字。")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "maxlength": 6,
                "autofocus": True,
                "placeholder": "······",
            }
        ),
    )


class ReceiptForm(forms.Form):
    """A receipt photo for points, and what is printed on it."""

    merchant = forms.ChoiceField(label=_("消费商户"))
    receipt_no = forms.RegexField(
        label=_("小票号"),
        regex=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$",
        error_messages={"invalid": _("小票号只能包含字母、数字和 ._:-，最多 64 位。")},
        widget=forms.TextInput(attrs={"autocapitalize": "characters"}),
    )
    amount = forms.DecimalField(
        label=_("金额（元）"),
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00"}),
    )
    occurred_on = forms.DateField(
        label=_("消费日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    photo = forms.FileField(
        label=_("小票照片"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def __init__(self, *args: Any, merchants: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["merchant"]).choices = [
            ("", _("请选择商户")),
            *merchants,
        ]
        self.fields["occurred_on"].initial = timezone.localdate()


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("昵称"), max_length=100, required=False)
    name = forms.CharField(label=_("姓名"), max_length=100, required=False)
    gender = forms.ChoiceField(label=_("性别"), choices=Gender.choices)
    birthday = forms.DateField(
        label=_("生日"),
        required=False,
        help_text=_("生日设置后不能自行修改，如需更正请联系服务台。"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )

    def clean_birthday(self) -> dt.date | None:
        birthday: dt.date | None = self.cleaned_data.get("birthday")
        if birthday is not None and not dt.date(1900, 1, 1) <= birthday <= timezone.localdate():
            raise forms.ValidationError(_("请输入真实的生日。"))
        return birthday


class ConsentsForm(forms.Form):
    """The consents a member may change here (withdrawing data processing means closing)."""

    marketing = forms.BooleanField(label=_("接收优惠活动和积分提醒"), required=False)
    third_party_sharing = forms.BooleanField(
        label=_("允许向消费过的商户提供我的会员信息"), required=False
    )


# --- the merchant portal --------------------------------------------------------------------

CASHIER_METHODS = (
    PaymentMethod.WECHAT,
    PaymentMethod.ALIPAY,
    PaymentMethod.CARD,
    PaymentMethod.CASH,
)


class CashierSaleForm(forms.Form):
    """The cashier screen: who (a scanned member code, a card number or a phone), how much, how."""

    member = forms.CharField(
        label=_("会员码 / 手机号"),
        max_length=40,
        required=False,
        help_text=_("扫描会员出示的会员码，或输入手机号；不填则记为非会员消费。"),
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "inputmode": "numeric"}
        ),
    )
    amount = forms.DecimalField(
        label=_("实收金额（元）"),
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"}
        ),
    )
    method = forms.ChoiceField(
        label=_("支付方式"),
        choices=[(m.value, m.label) for m in CASHIER_METHODS],
        initial=PaymentMethod.WECHAT,
        widget=forms.RadioSelect,
    )
    # Made when the form is shown: submitting twice (a double tap, a reload) replays the sale.
    external_id = forms.RegexField(
        regex=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$", widget=forms.HiddenInput
    )

    def member_ref(self) -> tuple[str, str] | None:
        """("phone" | "code", value) for the member field, or None when it is empty."""
        value = "".join(str(self.cleaned_data.get("member") or "").split())
        if not value:
            return None
        try:
            return "phone", normalize_phone(value)
        except PhoneInvalidError:
            return "code", value


# --- the console: members, program, adjustments, receipts -----------------------------------


class MemberSearchForm(forms.Form):
    q = forms.CharField(
        label=_("会员号、手机号或卡号"),
        max_length=40,
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("会员号、手机号或卡号（精确匹配）")}
        ),
    )


class ImportForm(forms.Form):
    """Upload a CSV file to import in the background; the kinds offered are the role's own."""

    kind = forms.ChoiceField(label=_("导入内容"))
    merchant = forms.ChoiceField(
        label=_("商户"), required=False, help_text=_("导入销售时必选：文件中的销售记入该商户。")
    )
    file = forms.FileField(
        label=_("CSV 文件"),
        help_text=_("UTF-8 或 GB18030 编码，最多 5000 行、5 MB。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(
        self,
        *args: Any,
        kinds: Sequence[tuple[str, str | Promise]],
        merchants: Sequence[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = list(kinds)
        cast(forms.ChoiceField, self.fields["merchant"]).choices = [
            ("", "—"),
            *merchants,
        ]


class AdjustmentForm(forms.Form):
    points = forms.IntegerField(
        label=_("积分数"),
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text=_("正数增加，负数扣减。"),
    )
    reason = forms.CharField(label=_("原因"), max_length=200)

    def clean_points(self) -> int:
        points: int = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("调整积分不能为 0。"))
        return points


class TierForm(forms.Form):
    code = forms.SlugField(label=_("等级代码"), max_length=32)
    name = forms.CharField(label=_("名称"), max_length=50)
    rank = forms.IntegerField(label=_("顺序"), min_value=1, max_value=50)
    growth_threshold = forms.IntegerField(label=_("升级成长值"), min_value=0)
    retention_growth = forms.IntegerField(
        label=_("保级成长值"),
        min_value=0,
        initial=0,
        help_text=_("评定周期内达到此成长值即保留等级。"),
    )
    points_multiplier = forms.DecimalField(
        label=_("积分倍数"),
        min_value=Decimal("0.01"),
        max_digits=4,
        decimal_places=2,
        initial=Decimal(1),
    )
    free_parking_hours = forms.IntegerField(
        label=_("免费停车（小时）"), min_value=0, max_value=24, initial=0
    )
    discount_percent = forms.DecimalField(
        label=_("折扣（%）"),
        min_value=Decimal(0),
        max_value=Decimal("99.99"),
        max_digits=5,
        decimal_places=2,
        initial=Decimal(0),
    )
    birthday_gift = forms.CharField(label=_("生日礼"), max_length=200, required=False)
    perks = forms.CharField(
        label=_("其他权益"),
        required=False,
        help_text=_("每行一项，例如：贵宾休息室。"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_perks(self) -> list[str]:
        perks = [line.strip() for line in self.cleaned_data["perks"].splitlines() if line.strip()]
        if len(perks) > 20 or any(len(perk) > 50 for perk in perks):
            raise forms.ValidationError(_("最多 20 项，每项不超过 50 字。"))
        return perks


class RuleForm(forms.Form):
    """A new earning rule (saved as a draft)."""

    name = forms.CharField(label=_("规则名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=RuleKind.choices, initial=RuleKind.RATE)
    points_per_yuan = forms.DecimalField(
        label=_("每元积分"),
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=4,
        initial=Decimal(1),
        required=False,
    )
    multiplier = forms.DecimalField(
        label=_("倍数"),
        min_value=Decimal("0.01"),
        max_digits=6,
        decimal_places=2,
        initial=Decimal(1),
        required=False,
    )
    per_sale_cap = forms.IntegerField(label=_("单笔上限"), min_value=0, required=False)
    per_day_cap = forms.IntegerField(label=_("每日上限"), min_value=0, required=False)
    merchant = forms.ChoiceField(label=_("适用商户"), required=False)
    business_format = forms.ChoiceField(label=_("适用业态"), required=False)
    category = forms.CharField(label=_("商品品类"), max_length=64, required=False)
    weekdays = forms.MultipleChoiceField(
        label=_("每周生效日"),
        required=False,
        choices=[
            ("1", _("周一")),
            ("2", _("周二")),
            ("3", _("周三")),
            ("4", _("周四")),
            ("5", _("周五")),
            ("6", _("周六")),
            ("7", _("周日")),
        ],
        widget=forms.CheckboxSelectMultiple,
    )
    effective_from = forms.DateField(
        label=_("生效日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    effective_to = forms.DateField(
        label=_("截止日期"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )

    def __init__(
        self,
        *args: Any,
        merchants: Sequence[tuple[str, str]],
        formats: Sequence[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["merchant"]).choices = [
            ("", _("全部商户")),
            *merchants,
        ]
        cast(forms.ChoiceField, self.fields["business_format"]).choices = [
            ("", _("全部业态")),
            *formats,
        ]
        self.fields["effective_from"].initial = timezone.localdate() + dt.timedelta(days=1)

    def rule_fields(self) -> dict[str, Any]:
        """The cleaned values as `create_rule_draft` takes them."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kind": data["kind"],
            "points_per_yuan": data["points_per_yuan"] or Decimal(0),
            "multiplier": data["multiplier"] or Decimal(1),
            "per_sale_cap": data["per_sale_cap"],
            "per_day_cap": data["per_day_cap"],
            "merchant_id": data["merchant"] or None,
            "business_format": data["business_format"],
            "category": data["category"].strip(),
            "weekdays": sorted(int(day) for day in data["weekdays"]),
            "effective_from": data["effective_from"],
            "effective_to": data["effective_to"],
        }


class RuleVersionForm(forms.Form):
    """A new version of a published rule: what changes, from which day."""

    effective_from = forms.DateField(
        label=_("新版本生效日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    points_per_yuan = forms.DecimalField(
        label=_("每元积分"), min_value=Decimal(0), max_digits=8, decimal_places=4, required=False
    )
    multiplier = forms.DecimalField(
        label=_("倍数"), min_value=Decimal("0.01"), max_digits=6, decimal_places=2, required=False
    )
    per_sale_cap = forms.IntegerField(label=_("单笔上限"), min_value=0, required=False)
    per_day_cap = forms.IntegerField(label=_("每日上限"), min_value=0, required=False)

    def changes(self) -> dict[str, Any]:
        return {key: value for key, value in self.cleaned_data.items() if value is not None}


class PreviewForm(forms.Form):
    """A sample sale to preview: where, how much, how paid, for which tier."""

    merchant = forms.ChoiceField(label=_("商户"))
    total = forms.DecimalField(
        label=_("消费金额（元）"),
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        initial=Decimal("100.00"),
    )
    method = forms.ChoiceField(
        label=_("支付方式"), choices=PaymentMethod.choices, initial=PaymentMethod.WECHAT
    )
    category = forms.CharField(label=_("商品品类"), max_length=64, required=False)
    tier = forms.ChoiceField(label=_("会员等级"), required=False)
    occurred_on = forms.DateField(
        label=_("消费日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )

    def __init__(
        self,
        *args: Any,
        merchants: Sequence[tuple[str, str]],
        tiers: Sequence[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["merchant"]).choices = list(merchants)
        cast(forms.ChoiceField, self.fields["tier"]).choices = [("", _("不计等级")), *tiers]


class BacktestForm(forms.Form):
    days = forms.IntegerField(label=_("回测天数"), min_value=1, max_value=90, initial=30)


class ReceiptDecisionForm(forms.Form):
    amount = forms.DecimalField(
        label=_("核定金额（元）"),
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        required=False,
    )
    method = forms.ChoiceField(
        label=_("支付方式"), choices=PaymentMethod.choices, initial=PaymentMethod.CASH
    )
    reason = forms.CharField(label=_("驳回原因"), max_length=200, required=False)


class AllianceSettingsForm(forms.Form):
    """The clearing value of a point and who funds merchant-issued points."""

    point_value = forms.DecimalField(
        label=_("积分结算价值（元/分）"),
        min_value=Decimal("0.0001"),
        max_digits=8,
        decimal_places=4,
    )
    funding_source = forms.ChoiceField(
        label=_("发放积分出资方"),
        choices=(("merchant", _("发放商户")), ("mall", _("商场")), ("shared", _("按比例分摊"))),
    )
    merchant_share = forms.DecimalField(
        label=_("商户分摊比例（0–1）"), required=False, min_value=Decimal(0),
        max_value=Decimal(1), max_digits=5, decimal_places=4,
    )  # fmt: skip


class BillUploadForm(forms.Form):
    """A payment channel's daily bill."""

    channel = forms.ChoiceField(
        label=_("渠道"), choices=(("alipay", _("支付宝")), ("wechat", _("微信支付")))
    )
    bill_date = forms.DateField(label=_("账单日期"))
    file = forms.FileField(label=_("账单文件"))
