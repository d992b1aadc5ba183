from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "planning.live"
    label = "live"
    verbose_name = "Live sessions"
