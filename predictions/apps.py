from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"
    label = "predictions"
    verbose_name = "Lines on Graphs"
