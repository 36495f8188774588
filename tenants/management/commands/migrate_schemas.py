"""`migrate_schemas`: public, then the tenant template, then only the stale tenant schemas.

django-tenants' stock command visits every schema (17 s at 115 tenants, 51 s at 220 with
nothing to do). This one finds the out-of-date schemas with one query and migrates just those,
in parallel (multiprocessing executor, TENANT_MULTIPROCESSING_MAX_PROCESSES workers).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import connection
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.migration_executors import get_executor

from tenants import template
from tenants.models import Tenant


class Command(MigrateSchemasCommand):
    help = "Migrate public, the tenant template, then every out-of-date tenant schema."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--all-schemas",
            action="store_true",
            help="Visit every tenant schema, not only the ones found out of date.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("schema_name") or options.get("app_label") or options.get("shared"):
            super().handle(*args, **options)
            return
        if not options.get("tenant"):
            super().handle(*args, **{**options, "shared": True, "tenant": False})
        template.create_template_schema()
        requested = options.get("executor")
        executor_name = requested or "standard"
        template_options = {**options, "schema_name": template.template_schema(), "tenant": True}
        super().handle(*args, **{**template_options, "executor": "standard"})
        schemas = list(Tenant.objects.values_list("schema_name", flat=True))
        todo = schemas if options["all_schemas"] else template.stale_schemas(schemas)
        self.stdout.write(f"{len(todo)} of {len(schemas)} tenant schemas need migrating")
        if not todo:
            return
        if requested is None and len(todo) > 1:
            executor_name = "multiprocessing"
        if executor_name == "multiprocessing":
            # Forked workers must not share the parent's pooled sockets.
            connection.close_pool()  # type: ignore[attr-defined]  # postgresql backend only
        self.options = {**options, "schema_name": None}
        self.args = args
        executor = get_executor(codename=executor_name)(args, self.options)
        executor.run_migrations(tenants=todo)
        if settings.DEBUG:
            self.stdout.write(self.style.SUCCESS("tenant schemas are up to date"))
