from django.apps import AppConfig


class BillingConfig(AppConfig):
    """SaaS plans, usage metering and invoices (public schema); grown by the billing issue."""

    name = "billing"
    verbose_name = "Billing"
