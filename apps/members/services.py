"""Write use cases for members (joining and member tokens; identities come with issue 5)."""

from __future__ import annotations

import secrets

from django.db import transaction

from apps.accounts.choices import SubjectKind
from apps.members.models import Member
from atrium import tokens
from atrium.models import AuthSession


@transaction.atomic
def create_member(*, display_name: str = "") -> Member:
    """Enrol a member with a fresh member number."""
    while True:
        member_no = f"M{secrets.randbelow(10**10):010d}"
        if not Member.objects.filter(member_no=member_no).exists():
            return Member.objects.create(member_no=member_no, display_name=display_name)


def issue_member_tokens(*, member: Member) -> tokens.TokenPair:
    """Open a member session (called by the member login flows)."""
    return tokens.issue_tokens(
        session_model=AuthSession, subject_kind=SubjectKind.MEMBER, subject_id=str(member.pk)
    )


def refresh_member_tokens(*, refresh_token: str) -> tokens.TokenPair:
    """Rotate a member refresh token. Raises AuthenticationError."""
    return tokens.refresh_tokens(
        session_model=AuthSession, refresh_token=refresh_token, subject_kinds={SubjectKind.MEMBER}
    )
