from django.apps import AppConfig

from planning.sections import Section, register


class SaturationConfig(AppConfig):
    name = "planning.saturation"
    label = "saturation"
    verbose_name = "Saturation"

    def ready(self) -> None:
        register(
            Section(
                key=self.label,
                order=40,
                title="Saturation",
                idea="Notice when a product form factor stops showing model gains: that is the "
                "signal to move to the next form factor.",
                action="Track a form factor",
                nav_label="Saturation",
                url_name="saturation:formfactor_list",
                nav_paths=("/saturation/",),
                summary="planning.saturation.dashboard.summary",
                demo="planning.saturation.demo.seed",
                activities=("saturation_check",),
            )
        )
