"""What each role may do: the one place where console and merchant permissions are decided."""

from __future__ import annotations

import enum

from apps.accounts.choices import StaffRole
from atrium.errors import PermissionDeniedError


class Permission(enum.StrEnum):
    VIEW_STAFF = "staff.view"
    MANAGE_STAFF = "staff.manage"
    VIEW_MERCHANTS = "merchants.view"
    MANAGE_MERCHANTS = "merchants.manage"
    MANAGE_API_KEYS = "merchants.api_keys"
    VIEW_MEMBERS = "members.view"
    VIEW_MEMBER_PII = "members.pii"
    MANAGE_MEMBERS = "members.manage"
    MANAGE_PROGRAM = "program.manage"
    ADJUST_POINTS = "points.adjust"
    APPROVE_ADJUSTMENTS = "points.approve"
    VIEW_FINANCE = "finance.view"
    MANAGE_FINANCE = "finance.manage"
    MANAGE_MARKETING = "marketing.manage"
    MERCHANT_SELL = "merchant.sell"
    MERCHANT_MANAGE = "merchant.manage"


_ALL_MALL = {
    StaffRole.OWNER,
    StaffRole.ADMIN,
    StaffRole.MARKETING,
    StaffRole.FINANCE,
    StaffRole.CUSTOMER_SERVICE,
}
GRANTS: dict[Permission, frozenset[str]] = {
    Permission.VIEW_STAFF: frozenset({StaffRole.OWNER, StaffRole.ADMIN}),
    Permission.MANAGE_STAFF: frozenset({StaffRole.OWNER, StaffRole.ADMIN}),
    Permission.VIEW_MERCHANTS: frozenset(_ALL_MALL),
    Permission.MANAGE_MERCHANTS: frozenset({StaffRole.OWNER, StaffRole.ADMIN}),
    Permission.MANAGE_API_KEYS: frozenset({StaffRole.OWNER, StaffRole.ADMIN}),
    Permission.VIEW_MEMBERS: frozenset(_ALL_MALL),
    Permission.VIEW_MEMBER_PII: frozenset(
        {StaffRole.OWNER, StaffRole.ADMIN, StaffRole.CUSTOMER_SERVICE}
    ),
    Permission.MANAGE_MEMBERS: frozenset(
        {StaffRole.OWNER, StaffRole.ADMIN, StaffRole.CUSTOMER_SERVICE}
    ),
    Permission.MANAGE_PROGRAM: frozenset({StaffRole.OWNER, StaffRole.ADMIN, StaffRole.MARKETING}),
    Permission.ADJUST_POINTS: frozenset(
        {StaffRole.OWNER, StaffRole.ADMIN, StaffRole.CUSTOMER_SERVICE}
    ),
    Permission.APPROVE_ADJUSTMENTS: frozenset(
        {StaffRole.OWNER, StaffRole.ADMIN, StaffRole.FINANCE}
    ),
    Permission.VIEW_FINANCE: frozenset({StaffRole.OWNER, StaffRole.ADMIN, StaffRole.FINANCE}),
    Permission.MANAGE_FINANCE: frozenset({StaffRole.OWNER, StaffRole.FINANCE}),
    Permission.MANAGE_MARKETING: frozenset({StaffRole.OWNER, StaffRole.ADMIN, StaffRole.MARKETING}),
    Permission.MERCHANT_SELL: frozenset({StaffRole.MERCHANT_MANAGER, StaffRole.MERCHANT_CASHIER}),
    Permission.MERCHANT_MANAGE: frozenset({StaffRole.MERCHANT_MANAGER}),
}


def has_permission(role: str, permission: Permission) -> bool:
    """Whether a role carries a permission."""
    return role in GRANTS[permission]


def require(role: str, permission: Permission) -> None:
    """Raises PermissionDeniedError unless the role carries the permission."""
    if not has_permission(role, permission):
        raise PermissionDeniedError(
            "your role does not allow this", permission=str(permission), role=role
        )


def permissions_of(role: str) -> list[str]:
    """Every permission a role carries, for `GET /me`."""
    return sorted(str(p) for p, roles in GRANTS.items() if role in roles)


def require_can_assign(actor_role: str, role: str) -> None:
    """Only an owner grants, changes or removes the owner role. Raises PermissionDeniedError."""
    if role == StaffRole.OWNER and actor_role != StaffRole.OWNER:
        raise PermissionDeniedError("only an owner can manage owners", role=role)
