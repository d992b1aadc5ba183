from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"
    label = "audits"
    verbose_name = "Capability Lighting-Up"
