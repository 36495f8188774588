from django.apps import AppConfig


class AtriumConfig(AppConfig):
    """The shared kernel: idempotency records, logins and the outbox, in every tenant schema."""

    name = "atrium"
    verbose_name = "Atrium kernel"
