from django.apps import AppConfig


class CadencesConfig(AppConfig):
    name = "planning.cadences"
    label = "cadences"
    verbose_name = "Cadences"
