"""The API root: one NinjaAPI per surface, each with the shared error handlers and docs."""

from __future__ import annotations

from ninja import NinjaAPI

from apps.accounts.api import console_router as console_staff_router
from apps.accounts.api import merchant_router as merchant_staff_router
from apps.clearing.api import console_router as console_clearing_router
from apps.clearing.api import merchant_router as merchant_clearing_router
from apps.imports.api import console_router as console_imports_router
from apps.loyalty.api import console_router as console_loyalty_router
from apps.loyalty.api import member_router as member_points_router
from apps.members.api import console_router as console_members_router
from apps.members.api import router as member_router
from apps.merchants.api import console_router as console_merchants_router
from apps.merchants.api import integration_router
from apps.merchants.api import merchant_router as merchant_contract_router
from apps.reconciliation.api import console_router as console_reconciliation_router
from apps.sales import api as sales_api
from apps.settlement import split_api, statement_api
from atrium.api_errors import install_error_handlers
from atrium.renderers import JsonRenderer
from provider.api import router as provider_router


def _api(title: str, namespace: str, description: str) -> NinjaAPI:
    api = NinjaAPI(
        title=f"Atrium {title} API",
        version="1.0.0",
        urls_namespace=namespace,
        description=description,
        renderer=JsonRenderer(),
    )
    install_error_handlers(api)
    return api


provider_api = _api(
    "provider", "provider-api", "Tenant onboarding and lifecycle, on the provider's bare domain."
)
provider_api.add_router("/", provider_router)

console_api = _api("console", "console-api", "The mall operator console, on the tenant's host.")
console_api.add_router("/", console_staff_router)
console_api.add_router("/", console_merchants_router)
console_api.add_router("/", sales_api.console_router)
console_api.add_router("/", split_api.console_router)
console_api.add_router("/", console_loyalty_router)
console_api.add_router("/", console_members_router)
console_api.add_router("/", console_imports_router)
console_api.add_router("/", statement_api.console_router)
console_api.add_router("/", console_clearing_router)
console_api.add_router("/", console_reconciliation_router)

merchant_api = _api("merchant", "merchant-api", "The merchant portal, on the tenant's host.")
merchant_api.add_router("/", merchant_staff_router)
merchant_api.add_router("/", merchant_contract_router)
merchant_api.add_router("/", sales_api.merchant_router)
merchant_api.add_router("/", statement_api.merchant_router)
merchant_api.add_router("/", merchant_clearing_router)
merchant_api.add_router("/", split_api.merchant_router)

member_api = _api(
    "member",
    "member-api",
    "The member app and mini-programs: the tenant's host, or the API host with `X-Tenant`.",
)
member_api.add_router("/", member_router)
member_api.add_router("/", sales_api.member_router)
member_api.add_router("/", member_points_router)

integration_api = _api(
    "integration",
    "integration-api",
    "POS and other machines, HMAC-signed with a merchant API key (see the README).",
)
integration_api.add_router("/", integration_router)
integration_api.add_router("/", sales_api.integration_router)
