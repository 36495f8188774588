"""Write use cases for merchants and their POS API keys, and the HMAC request check."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.merchants import keyring, storage
from apps.merchants.choices import (
    DEFAULT_BUSINESS_FORMATS,
    ContractKind,
    MerchantStatus,
    PayoutMethod,
    SettlementCycle,
)
from apps.merchants.errors import (
    ApiKeyRevokedError,
    BusinessFormatExistsError,
    BusinessFormatNotFoundError,
    ContractBackdatedError,
    ContractInvalidError,
    MerchantInvalidError,
    SignatureExpiredError,
    SignatureInvalidError,
    SignatureReplayedError,
)
from apps.merchants.models import ApiKey, BusinessFormat, Contract, Merchant
from atrium.cache import CachePipeline, pipeline
from atrium.crypto import decrypt, encrypt


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str


_PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
_FORMAT_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MERCHANT_FIELDS = (
    "name",
    "business_format",
    "brand",
    "floor",
    "unit",
    "contact_name",
    "contact_phone",
    "status",
)


def mask_contact_phone(phone: str) -> str:
    """`13812341234` -> `138****1234`: the contact phone for staff without the permission."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def contact_phone_of(merchant: Merchant) -> str:
    """The merchant's contact phone in clear (only for staff allowed to see personal data)."""
    return decrypt(merchant.contact_phone_encrypted) if merchant.contact_phone_encrypted else ""


def _clean_phone(phone: str) -> str:
    phone = phone.strip()
    if phone and not _PHONE_RE.match(phone):
        raise MerchantInvalidError("contact_phone is not a phone number", field="contact_phone")
    return phone


def seed_business_formats() -> None:
    """Give a mall the default business formats when it has none (onboarding, first use)."""
    if not BusinessFormat.objects.exists():
        BusinessFormat.objects.bulk_create(
            (
                BusinessFormat(code=code, name=name, position=position)
                for position, (code, name) in enumerate(DEFAULT_BUSINESS_FORMATS)
            ),
            ignore_conflicts=True,
        )


def _check_format(code: str) -> str:
    seed_business_formats()
    if not BusinessFormat.objects.filter(code=code).exists():
        raise BusinessFormatNotFoundError("unknown business format", business_format=code)
    return code


def create_merchant(
    *,
    name: str,
    business_format: str = "retail",
    unit: str = "",
    brand: str = "",
    floor: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    status: str = MerchantStatus.ACTIVE,
    check_format: bool = False,
) -> Merchant:
    """Add a merchant to the mall (the console checks the format exists: `check_format`).

    Raises MerchantInvalidError, BusinessFormatNotFoundError.
    """
    if not name.strip():
        raise MerchantInvalidError("name is required", field="name")
    if status not in MerchantStatus.values:
        raise MerchantInvalidError("unknown status", field="status", status=status)
    if check_format:
        _check_format(business_format)
    phone = _clean_phone(contact_phone)
    return Merchant.objects.create(
        name=name.strip(),
        business_format=business_format,
        unit=unit.strip(),
        brand=brand.strip(),
        floor=floor.strip(),
        contact_name=contact_name.strip(),
        contact_phone_encrypted=encrypt(phone) if phone else "",
        status=status,
        is_active=status == MerchantStatus.ACTIVE,
    )


def update_merchant(*, merchant: Merchant, changes: Mapping[str, str]) -> Merchant:
    """Change a merchant's directory fields (only those given).

    Raises MerchantInvalidError, BusinessFormatNotFoundError.
    """
    unknown = set(changes) - set(MERCHANT_FIELDS)
    if unknown:
        raise MerchantInvalidError("unknown fields", fields=sorted(unknown))
    fields: list[str] = []
    for name, value in changes.items():
        value = value.strip()
        if name == "name" and not value:
            raise MerchantInvalidError("name is required", field="name")
        if name == "business_format":
            _check_format(value)
        if name == "status":
            if value not in MerchantStatus.values:
                raise MerchantInvalidError("unknown status", field="status", status=value)
            merchant.is_active = value == MerchantStatus.ACTIVE
            fields.append("is_active")
        if name == "contact_phone":
            phone = _clean_phone(value)
            merchant.contact_phone_encrypted = encrypt(phone) if phone else ""
            fields.append("contact_phone_encrypted")
            continue
        setattr(merchant, name, value)
        fields.append(name)
    if fields:
        merchant.save(update_fields=[*fields, "updated_at"])
        keyring.invalidate()  # POS calls carry the merchant as the keyring read it
    return merchant


def set_merchant_logo(*, merchant: Merchant, content: bytes) -> Merchant:
    """Store a logo (JPEG, PNG or WebP) in the tenant's private folder. Raises LogoInvalidError."""
    content_type, extension = storage.sniff(content)
    old = merchant.logo_path
    merchant.logo_path = storage.save_logo(content, extension)
    merchant.logo_content_type = content_type
    merchant.save(update_fields=["logo_path", "logo_content_type", "updated_at"])
    keyring.invalidate()
    if old:
        storage.logo_path(old).unlink(missing_ok=True)
    return merchant


def create_business_format(*, code: str, name: str, position: int = 0) -> BusinessFormat:
    """Add a business format. Raises MerchantInvalidError, BusinessFormatExistsError."""
    if not _FORMAT_CODE_RE.match(code):
        raise MerchantInvalidError("code: lowercase letters, digits and _", field="code")
    if not name.strip():
        raise MerchantInvalidError("name is required", field="name")
    if BusinessFormat.objects.filter(code=code).exists():
        raise BusinessFormatExistsError("this business format exists", format_code=code)
    return BusinessFormat.objects.create(code=code, name=name.strip(), position=position)


def update_business_format(
    *,
    business_format: BusinessFormat,
    name: str | None,
    position: int | None,
    is_active: bool | None,
) -> BusinessFormat:
    """Rename, reorder or retire a format (its code stays: merchants and rules refer to it)."""
    if name is not None:
        if not name.strip():
            raise MerchantInvalidError("name is required", field="name")
        business_format.name = name.strip()
    if position is not None:
        business_format.position = position
    if is_active is not None:
        business_format.is_active = is_active
    business_format.save(update_fields=["name", "position", "is_active"])
    return business_format


# --- contracts -----------------------------------------------------------------------------

_RATE_MAX = Decimal(1)


def _rate(value: Decimal | str, *, field: str) -> Decimal:
    try:
        rate = Decimal(str(value))
    except InvalidOperation as exc:
        raise ContractInvalidError("not a rate", field=field) from exc
    if (
        not rate.is_finite()
        or rate < 0
        or rate > _RATE_MAX
        or rate != rate.quantize(Decimal("0.0001"))
    ):
        raise ContractInvalidError("a rate is between 0 and 1, at most 4 places", field=field)
    return rate.quantize(Decimal("0.0001"))


def _money(value: Decimal | str, *, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ContractInvalidError("not an amount", field=field) from exc
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ContractInvalidError("an amount is not negative, at most 2 places", field=field)
    if amount > Decimal("999999999999.99"):
        raise ContractInvalidError("amount too large", field=field)
    return amount.quantize(Decimal("0.01"))


@transaction.atomic
def create_contract(
    *,
    merchant: Merchant,
    kind: str,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
    commission_rate: Decimal | str = "0",
    category_rates: Mapping[str, Decimal | str] | None = None,
    rent_amount: Decimal | str = "0",
    minimum_amount: Decimal | str = "0",
    cycle: str = SettlementCycle.MONTHLY,
    payout_method: str = PayoutMethod.BANK,
    payout_account_name: str = "",
    payout_account: str = "",
    payout_bank_name: str = "",
    note: str = "",
    actor: str = "",
    today: dt.date | None = None,
) -> Contract:
    """Add a contract version for a merchant; it supersedes older ones from `effective_from`.

    Versions in force are never edited, so a new one may not start in the past (before today).
    Raises ContractInvalidError, ContractBackdatedError.
    """
    from apps.settlement.splitting import invalidate

    today = today or timezone.localdate()
    if kind not in ContractKind.values:
        raise ContractInvalidError("unknown contract kind", field="kind", kind=kind)
    if cycle not in SettlementCycle.values:
        raise ContractInvalidError("unknown settlement cycle", field="cycle", cycle=cycle)
    if payout_method not in PayoutMethod.values:
        raise ContractInvalidError("unknown payout method", field="payout_method")
    if effective_from < today:
        raise ContractBackdatedError(
            "a contract version cannot start in the past", effective_from=str(effective_from)
        )
    if effective_to is not None and effective_to < effective_from:
        raise ContractInvalidError("effective_to is before effective_from", field="effective_to")
    rates = {
        str(category).strip(): str(_rate(rate, field=f"category_rates.{category}"))
        for category, rate in (category_rates or {}).items()
    }
    if any(not category or len(category) > 64 for category in rates):
        raise ContractInvalidError("a category is 1 to 64 characters", field="category_rates")
    commission = _rate(commission_rate, field="commission_rate")
    rent = _money(rent_amount, field="rent_amount")
    minimum = _money(minimum_amount, field="minimum_amount")
    if kind == ContractKind.FIXED_RENT and (commission or rates):
        raise ContractInvalidError("a fixed rent contract takes no commission", field="kind")
    if kind in (ContractKind.FIXED_RENT, ContractKind.RENT_PLUS_COMMISSION) and rent <= 0:
        raise ContractInvalidError("this contract kind needs a rent", field="rent_amount")
    if kind == ContractKind.GUARANTEED_MINIMUM and minimum <= 0:
        raise ContractInvalidError("a guaranteed minimum needs a minimum", field="minimum_amount")
    account = payout_account.strip()
    if len(account) > 64:
        raise ContractInvalidError("payout account too long", field="payout_account")
    contract = Contract.objects.create(
        merchant=merchant,
        kind=kind,
        commission_rate=commission,
        category_rates=rates,
        rent_amount=rent,
        minimum_amount=minimum,
        cycle=cycle,
        payout_method=payout_method,
        payout_account_name=payout_account_name.strip()[:100],
        payout_account_encrypted=encrypt(account) if account else "",
        payout_bank_name=payout_bank_name.strip()[:100],
        effective_from=effective_from,
        effective_to=effective_to,
        note=note.strip()[:200],
        created_by=actor,
    )
    invalidate()
    return contract


def payout_account_of(contract: Contract) -> str:
    """The payout account in clear (finance only)."""
    if not contract.payout_account_encrypted:
        return ""
    return decrypt(contract.payout_account_encrypted)


def mask_account(account: str) -> str:
    """`6222021234567890` -> `************7890`."""
    return "*" * max(0, len(account) - 4) + account[-4:]


def create_api_key(*, merchant: Merchant, name: str = "") -> IssuedApiKey:
    """Issue a POS key; the returned secret is never shown again."""
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        key_id=f"ak_{secrets.token_hex(12)}",
        merchant=merchant,
        name=name,
        secret_encrypted=encrypt(secret),
    )
    keyring.invalidate()
    return IssuedApiKey(api_key=key, secret=secret)


@transaction.atomic
def rotate_api_key(*, api_key: ApiKey) -> IssuedApiKey:
    """Replace a key by a new one and revoke the old. Raises ApiKeyRevokedError if already revoked."""
    if not api_key.is_active:
        raise ApiKeyRevokedError("API key is revoked", key_id=api_key.key_id)
    issued = create_api_key(merchant=api_key.merchant, name=api_key.name)
    api_key.revoked_at = timezone.now()
    api_key.replaced_by = issued.api_key
    api_key.save(update_fields=["revoked_at", "replaced_by"])
    keyring.invalidate()
    return issued


def revoke_api_key(*, api_key: ApiKey) -> ApiKey:
    """Stop a key from authenticating anything, at once."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        keyring.invalidate()  # refused on the very next call, in every process
    return api_key


def string_to_sign(*, method: str, path: str, timestamp: str, body: bytes) -> str:
    """METHOD \\n PATH \\n TIMESTAMP \\n hex SHA-256 of the raw body (documented in the README)."""
    return "\n".join((method.upper(), path, timestamp, hashlib.sha256(body).hexdigest()))


def sign(*, secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the string to sign: what a POS sends."""
    message = string_to_sign(method=method, path=path, timestamp=timestamp, body=body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


_AUTH_ERRORS = (SignatureInvalidError, SignatureExpiredError, ApiKeyRevokedError)


@dataclass(frozen=True)
class SignedRequest:
    """What a machine request's signature covers, with the headers that carry it."""

    key_id: str
    timestamp: str
    signature: str  # lowercase hex
    method: str
    path: str
    body: bytes


def _check(entry: keyring.KeyEntry | None, request: SignedRequest) -> keyring.KeyEntry:
    """Everything but the replay check, in the order the errors take precedence."""
    if entry is None:
        raise SignatureInvalidError("unknown API key")
    if not entry.key_active:
        raise ApiKeyRevokedError("API key is revoked", key_id=request.key_id)
    if not entry.merchant_active:
        raise ApiKeyRevokedError("merchant is inactive", key_id=request.key_id)
    try:
        sent_at = int(request.timestamp)
    except ValueError as exc:
        raise SignatureInvalidError("X-Atrium-Timestamp must be unix seconds") from exc
    skew = settings.HMAC_MAX_SKEW_SECONDS
    if abs(time.time() - sent_at) > skew:
        raise SignatureExpiredError("timestamp is outside the allowed window", max_skew=skew)
    expected = sign(
        secret=entry.secret,
        method=request.method,
        path=request.path,
        timestamp=request.timestamp,
        body=request.body,
    )
    if not hmac.compare_digest(expected, request.signature):
        raise SignatureInvalidError("signature does not match")
    return entry


def _passes(entry: keyring.KeyEntry | None, request: SignedRequest) -> keyring.KeyEntry | None:
    """The entry if the request passes it, else None (it may be stale: decide on current rows)."""
    if entry is None:
        return None
    try:
        return _check(entry, request)
    except _AUTH_ERRORS:
        return None


def verify_signed_request(
    *, key_id: str, timestamp: str, signature: str, method: str, path: str, body: bytes
) -> ApiKey:
    """Authenticate a machine request.

    In steady state this costs no query and one Redis round trip: the key's rows come from this
    process's keyring, and the replay mark, the use mark and the keyring's generation travel in
    one pipeline. A stale entry is read again before anything is accepted.
    Raises SignatureInvalidError, SignatureExpiredError, SignatureReplayedError, ApiKeyRevokedError.
    """
    request = SignedRequest(key_id, timestamp, signature.lower(), method, path, body)
    seen_key, used_key = _seen_key(request), _used_key(key_id)
    marks = _mark(pipeline(), request)
    entry = _passes(keyring.cached(key_id), request)
    if entry is not None:
        fresh, first_use, token = marks.get(keyring.GENERATION_KEY).execute()
        if token != entry.generation:
            try:
                entry = _check(keyring.load(key_id, token=keyring.generation(token)), request)
            except _AUTH_ERRORS:
                _unmark(seen_key if fresh else None, used_key if first_use else None)
                raise
    else:
        entry = _check(keyring.current(key_id), request)
        fresh, first_use = marks.execute()
    if not fresh:
        _unmark(used_key if first_use else None)
        raise SignatureReplayedError("this signed request was already used")
    if first_use:
        ApiKey.objects.filter(pk=entry.key_id).update(last_used_at=timezone.now())
    return entry.api_key()


def accept_signed_requests(requests: Sequence[SignedRequest]) -> list[ApiKey | None]:
    """Authenticate several machine requests of the current tenant at once, in one Redis round
    trip (the POS ingest's groups, docs/adr/0022-pos-ingest-outside-the-django-request.md).

    Each request's ApiKey when it passes, else None; a request answered None keeps no mark, so
    `verify_signed_request` then gives it exactly the answer it would have had (a replay stays
    a replay: the signature's first use holds its mark). Keys this process has not read yet
    are read first (one more round trip for the tenant's generation token).
    """
    if unread := {r.key_id for r in requests if keyring.cached(r.key_id) is None}:
        token = keyring.generation()
        for key_id in unread:
            keyring.load(key_id, token=token)
    passing = [
        (index, request, entry)
        for index, request in enumerate(requests)
        if (entry := _passes(keyring.cached(request.key_id), request)) is not None
    ]
    accepted: list[ApiKey | None] = [None] * len(requests)
    if not passing:
        return accepted
    marks = pipeline()
    for _, request, _ in passing:
        _mark(marks, request)
    *flags, token = marks.get(keyring.GENERATION_KEY).execute()
    reloaded: dict[str, keyring.KeyEntry | None] = {}
    first_uses: set[str] = set()  # keys whose use mark this group set
    used: set[str] = set()  # keys with an accepted request
    refused_seen: list[str | None] = []
    for position, (index, request, entry) in enumerate(passing):
        fresh, first_use = flags[2 * position], flags[2 * position + 1]
        if first_use:
            first_uses.add(request.key_id)
        current: keyring.KeyEntry | None = entry
        if token != entry.generation:  # a key or merchant changed: decide on current rows
            if request.key_id not in reloaded:
                reloaded[request.key_id] = keyring.load(
                    request.key_id, token=keyring.generation(token)
                )
            current = _passes(reloaded[request.key_id], request)
        if current is None or not fresh:
            refused_seen.append(_seen_key(request) if fresh else None)
            continue
        used.add(request.key_id)
        accepted[index] = current.api_key()
    _unmark(*refused_seen, *(_used_key(key_id) for key_id in first_uses - used))
    if first_used := first_uses & used:
        ApiKey.objects.filter(pk__in=first_used).update(last_used_at=timezone.now())
    return accepted


def _seen_key(request: SignedRequest) -> str:
    # A signature is only valid inside the skew window, so remembering it that long is enough.
    return f"hmac-seen:{request.key_id}:{request.signature}"


def _used_key(key_id: str) -> str:
    # Use is recorded at most once a minute per key: a busy till must not pay a write per call.
    return f"api-key-used:{key_id}"


def _mark(marks: CachePipeline, request: SignedRequest) -> CachePipeline:
    """Queue a request's replay mark and its key's use mark (both True when newly set)."""
    skew = settings.HMAC_MAX_SKEW_SECONDS
    return marks.add(_seen_key(request), 1, timeout=2 * skew).add(
        _used_key(request.key_id), 1, timeout=60
    )


def _unmark(*keys: str | None) -> None:
    """Take back the marks a refused call set, as if it had never reached them."""
    if taken := [key for key in keys if key is not None]:
        cache.delete_many(taken)
