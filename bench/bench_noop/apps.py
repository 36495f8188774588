from django.apps import AppConfig


class BenchNoopConfig(AppConfig):
    name = "bench_noop"
    label = "bench_noop"
    default_auto_field = "django.db.models.BigAutoField"
