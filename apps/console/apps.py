from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """Server-rendered pages on a tenant's host: operator console, merchant portal, member app.

    No models: the pages parse, authorize and call the other apps' services and selectors.
    """

    name = "apps.console"
    label = "console"
    verbose_name = "Console"
