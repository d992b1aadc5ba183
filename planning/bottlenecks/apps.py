from django.apps import AppConfig


class BottlenecksConfig(AppConfig):
    name = "planning.bottlenecks"
    label = "bottlenecks"
    verbose_name = "Bottleneck maps"
