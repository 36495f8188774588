"""Member API: the member app and mini-programs call it (also via `X-Tenant` on the API host)."""

from django.http import HttpRequest
from ninja import Router, Status

from apps.members import services
from apps.members.auth import MemberAuth, MemberPrincipal
from apps.members.schemas import MemberMeOut
from atrium import tokens
from atrium.schemas import ERROR_CODES, ErrorOut, RefreshIn, TokenPairOut

router = Router(tags=["member"], auth=MemberAuth())


def _principal(request: HttpRequest) -> MemberPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, MemberPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal


@router.post("/auth/refresh", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut})
def refresh(request: HttpRequest, payload: RefreshIn) -> TokenPairOut:
    """Swap a member refresh token for a new pair."""
    return TokenPairOut(**vars(services.refresh_member_tokens(refresh_token=payload.refresh_token)))


@router.post("/auth/logout", response={204: None, ERROR_CODES: ErrorOut})
def logout(request: HttpRequest) -> Status[None]:
    """End this login."""
    tokens.revoke_session(session=_principal(request).session)
    return Status(204, None)


@router.get("/me", response={200: MemberMeOut, ERROR_CODES: ErrorOut})
def me(request: HttpRequest) -> MemberMeOut:
    """The signed-in member."""
    member = _principal(request).member
    return MemberMeOut(
        id=member.pk,
        member_no=member.member_no,
        display_name=member.display_name,
        tenant=request.tenant.slug,  # type: ignore[attr-defined]  # set by tenant middleware
        created_at=member.created_at,
    )
