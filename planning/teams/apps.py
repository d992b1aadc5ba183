from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "planning.teams"
    label = "teams"
    verbose_name = "Teams"
