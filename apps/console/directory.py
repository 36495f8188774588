"""What the console's merchant pages show of the directory: business format choices, the
contact phone (masked per role), contract history (payout accounts masked) and the forms."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, has_permission
from apps.console.forms import ContractForm, MerchantEditForm
from apps.merchants import selectors as merchant_selectors
from apps.merchants import services as merchant_services
from apps.merchants.models import Merchant


def format_choices() -> list[tuple[str, str]]:
    """The mall's business formats as form choices."""
    return [(f.code, f.name) for f in merchant_selectors.list_business_formats()]


def directory_context(staff: StaffUser, merchant: Merchant) -> dict[str, Any]:
    """What the merchant page shows of the directory and contracts (phone masked per role)."""
    phone = merchant_services.contact_phone_of(merchant)
    clear = has_permission(staff.role, Permission.VIEW_MEMBER_PII)
    contracts = [
        {
            "contract": c,
            "account": merchant_services.mask_account(merchant_services.payout_account_of(c)),
        }
        for c in merchant_selectors.list_contracts(merchant=merchant)
    ]
    edit = MerchantEditForm(
        prefix="edit",
        initial={
            "name": merchant.name,
            "unit": merchant.unit,
            "business_format": merchant.business_format,
            "brand": merchant.brand,
            "floor": merchant.floor,
            "contact_name": merchant.contact_name,
            "contact_phone": phone if clear else "",
            "status": merchant.status,
        },
    )
    edit.fields["business_format"].choices = format_choices()  # type: ignore[attr-defined]
    return {
        "contact_phone": phone if clear else merchant_services.mask_contact_phone(phone),
        "contracts": contracts,
        "contract_form": ContractForm(initial={"effective_from": timezone.localdate()}),
        "edit_form": edit,
        "can_manage_merchants": has_permission(staff.role, Permission.MANAGE_MERCHANTS),
    }
