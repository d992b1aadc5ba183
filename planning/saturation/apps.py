from django.apps import AppConfig


class SaturationConfig(AppConfig):
    name = "planning.saturation"
    label = "saturation"
    verbose_name = "Saturation"
