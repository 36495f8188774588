"""Write use cases of the members app: `members` (joining, profile, consents, identities,
sessions), `codes` (member code), `otp` (SMS codes), `auth` (login flows), `merge`, `privacy`
(PIPL export and closing) and `imports` (CSV)."""

from apps.members.services.auth import (
    MemberLogin,
    PhoneBound,
    bind_phone,
    close_own_account,
    login_with_otp,
    login_with_wechat,
    send_own_otp,
)
from apps.members.services.codes import MemberCode, issue_member_code, resolve_member_code
from apps.members.services.imports import (
    ImportReport,
    import_member_row,
    import_members,
    read_members_file,
)
from apps.members.services.members import (
    JoinResult,
    NewIdentity,
    attach_identity,
    create_member,
    issue_member_tokens,
    join_member,
    refresh_member_tokens,
    revoke_member_sessions,
    set_consents,
    update_profile,
)
from apps.members.services.merge import merge_members
from apps.members.services.otp import OtpSent, check_otp, send_otp
from apps.members.services.privacy import close_member, export_member_data
from atrium.csv_import import ImportRowError

__all__ = [
    "ImportReport",
    "ImportRowError",
    "JoinResult",
    "MemberCode",
    "MemberLogin",
    "NewIdentity",
    "OtpSent",
    "PhoneBound",
    "attach_identity",
    "bind_phone",
    "check_otp",
    "close_member",
    "close_own_account",
    "create_member",
    "export_member_data",
    "import_member_row",
    "import_members",
    "issue_member_code",
    "issue_member_tokens",
    "join_member",
    "login_with_otp",
    "login_with_wechat",
    "merge_members",
    "read_members_file",
    "refresh_member_tokens",
    "resolve_member_code",
    "revoke_member_sessions",
    "send_otp",
    "send_own_otp",
    "set_consents",
    "update_profile",
]
