"""The websocket surfaces: the mall console, the merchant portal and the member app.

Each authenticates with the same access tokens and rules as its HTTP API (the functions in
`apps.accounts.auth` / `apps.members.auth`) and listens to its audience's group.
"""

from __future__ import annotations

from apps.accounts.auth import authenticate_staff_token
from apps.members.auth import authenticate_member_token
from atrium.realtime import (
    Subscription,
    TenantConsumer,
    console_group,
    member_group,
    merchant_group,
)
from atrium.tenancy import current_schema


class ConsoleConsumer(TenantConsumer):
    """`/ws/console/`: mall staff; every event of the tenant."""

    def authorize(self, token: str) -> Subscription:
        principal = authenticate_staff_token(token, merchant_portal=False)
        return Subscription(actor=principal.scope_id, groups=(console_group(current_schema()),))


class MerchantConsumer(TenantConsumer):
    """`/ws/merchant/`: a merchant's staff; the events that name their merchant."""

    def authorize(self, token: str) -> Subscription:
        principal = authenticate_staff_token(token, merchant_portal=True)
        group = merchant_group(current_schema(), principal.staff.merchant_id)
        return Subscription(actor=principal.scope_id, groups=(group,))


class MemberConsumer(TenantConsumer):
    """`/ws/member/`: a member; the events that name them."""

    def authorize(self, token: str) -> Subscription:
        principal = authenticate_member_token(token)
        group = member_group(current_schema(), principal.member.pk)
        return Subscription(actor=principal.scope_id, groups=(group,))
