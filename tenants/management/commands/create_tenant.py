"""`manage.py create_tenant`: onboard a mall or street in one step from the shell."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atrium.errors import DomainError
from tenants.choices import TenantKind
from tenants.services import onboard_tenant


class Command(BaseCommand):
    help = "Onboard a tenant: schema from the template, default program, first operator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="lowercase letters, digits, hyphens")
        parser.add_argument("--kind", default=TenantKind.MALL, choices=TenantKind.values)
        parser.add_argument("--operator-username", required=True)
        parser.add_argument("--operator-email", default="")
        parser.add_argument(
            "--operator-password",
            default=None,
            help="set a password instead of printing an invitation link",
        )
        parser.add_argument("--domain", action="append", default=[], help="extra custom domain")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = onboard_tenant(
                name=options["name"],
                slug=options["slug"],
                kind=options["kind"],
                operator_username=options["operator_username"],
                operator_email=options["operator_email"],
                operator_password=options["operator_password"],
                custom_domains=tuple(options["domain"]),
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message} {exc.extra or ''}".strip()) from exc
        tenant = result.tenant
        self.stdout.write(self.style.SUCCESS(f"tenant {tenant.slug} ({tenant.schema_name}) ready"))
        self.stdout.write(f"operator: {result.operator_username}")
        if result.operator_password is None:
            self.stdout.write(f"invitation: {result.invitation_url}")
