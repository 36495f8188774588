import datetime as dt
import uuid

from ninja import Field, Schema

from tenants.choices import TenantKind


class OperatorIn(Schema):
    username: str = Field(min_length=2, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")
    email: str = Field(default="", max_length=254)


class TenantCreateIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=3, max_length=40)
    kind: TenantKind = TenantKind.MALL
    display_name: str = Field(default="", max_length=200)
    primary_color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")
    operator: OperatorIn


class TenantUpdateIn(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: TenantKind | None = None
    display_name: str | None = Field(default=None, max_length=200)
    logo_url: str | None = Field(default=None, max_length=500)
    primary_color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")
    plan: str | None = Field(default=None, max_length=32)
    timezone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=16)


class DomainOut(Schema):
    domain: str
    is_primary: bool


class TenantOut(Schema):
    id: int
    name: str
    slug: str
    kind: str
    status: str
    schema_name: str
    timezone: str
    currency: str
    locale: str
    display_name: str
    logo_url: str
    primary_color: str
    plan: str
    created_at: dt.datetime
    domains: list[DomainOut]
    url: str

    @staticmethod
    def resolve_domains(obj: object) -> list[dict[str, object]]:
        domains = obj.domains.all()  # type: ignore[attr-defined]  # a Tenant
        return [{"domain": d.domain, "is_primary": d.is_primary} for d in domains]

    @staticmethod
    def resolve_url(obj: object) -> str:
        from tenants.selectors import tenant_url

        return tenant_url(obj)  # type: ignore[arg-type]  # a Tenant


class TenantCreatedOut(TenantOut):
    operator_username: str
    invitation_url: str


class ExportOut(Schema):
    id: uuid.UUID
    status: str
    file_name: str
    size_bytes: int
    sha256: str
    created_at: dt.datetime
    download_url: str


class RestoreIn(Schema):
    export_id: uuid.UUID
