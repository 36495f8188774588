from django.apps import AppConfig


class ProviderConfig(AppConfig):
    """The SaaS provider's console and API, in the public schema."""

    name = "provider"
    verbose_name = "Provider"
