from django.apps import AppConfig

from planning.sections import Section, register


class CadencesConfig(AppConfig):
    name = "planning.cadences"
    label = "cadences"
    verbose_name = "Cadences"

    def ready(self) -> None:
        register(
            Section(
                key=self.label,
                order=50,
                title="Cadences",
                idea="Audits and prediction reviews every quarter, retrospectives more often: "
                "Exponent reminds the team so the rhythm holds.",
                action="Review your cadences",
                nav_label="Cadences",
                url_name="cadences:cadence_list",
                nav_paths=("/cadences/",),
                summary="planning.cadences.dashboard.summary",
                demo="planning.cadences.demo.seed",
                # the framework's rhythm for a new team (editable later)
                on_team_created="planning.cadences.services.create_default_cadences",
            )
        )
