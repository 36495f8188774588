from django.apps import AppConfig


class ClearingConfig(AppConfig):
    name = "apps.clearing"
    label = "clearing"
    verbose_name = "Points-alliance clearing"
