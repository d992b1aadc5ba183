from django.apps import AppConfig


class FacilitatorConfig(AppConfig):
    name = "planning.facilitator"
    label = "facilitator"
    verbose_name = "Claude facilitator"

    def ready(self) -> None:
        from . import side_tasks  # noqa: F401  # registers the tasks (autodiscovery finds tasks.py only)
