from django.apps import AppConfig


class FacilitatorConfig(AppConfig):
    name = "planning.facilitator"
    label = "facilitator"
    verbose_name = "Claude facilitator"

    def ready(self) -> None:
        from planning.live.services import register_steerable

        from . import side_tasks  # noqa: F401  # registers the tasks (autodiscovery finds tasks.py only)
        from .services import follow_up, steer_refusal

        # a draft's task takes steers (each a further model call, within the month's budget);
        # a steer after its end asks for a revision (checked like a new draft)
        register_steerable("review_draft", follow_up, gate=steer_refusal)
