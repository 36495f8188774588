"""`migrate` is `migrate_schemas` here (also when Django's test runner builds the test database)."""

from tenants.management.commands.migrate_schemas import Command as MigrateSchemasCommand

Command = MigrateSchemasCommand
