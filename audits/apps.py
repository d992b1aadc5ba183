from django.apps import AppConfig

from planning.sections import Section, register


class AuditsConfig(AppConfig):
    name = "audits"
    label = "audits"
    verbose_name = "Capability Lighting-Up"

    def ready(self) -> None:
        register(
            Section(
                key=self.label,
                order=20,
                title="Capability Lighting-Up",
                idea="Keep the ideas that failed because the model was not good enough, and "
                "re-test them against today's models every quarter. Some will have lit up.",
                action="Log a failed idea",
                nav_label="Lighting-Up",
                url_name="audits:idea_list",
                nav_paths=("/ideas/", "/audits/"),
                summary="audits.dashboard.summary",
                demo="audits.demo.seed",
                activities=("capability_audit",),
            )
        )
