from django.apps import AppConfig


class FacilitatorConfig(AppConfig):
    name = "planning.facilitator"
    label = "facilitator"
    verbose_name = "Claude facilitator"
