from django.apps import AppConfig

from planning.sections import Section, register


class BottlenecksConfig(AppConfig):
    name = "planning.bottlenecks"
    label = "bottlenecks"
    verbose_name = "Bottleneck maps"

    def ready(self) -> None:
        register(
            Section(
                key=self.label,
                order=30,
                title="Bottleneck maps",
                idea="Map how work flows from idea to production. When AI speeds up one stage, "
                "the stages it did not touch become the critical path (Amdahl's law).",
                action="Map your delivery workflow",
                nav_label="Bottlenecks",
                url_name="bottlenecks:map_list",
                nav_paths=("/bottlenecks/",),
                summary="planning.bottlenecks.dashboard.summary",
                demo="planning.bottlenecks.demo.seed",
                activities=("bottleneck_refresh",),
            )
        )
