from django.apps import AppConfig

from planning.sections import Section, register


class PredictionsConfig(AppConfig):
    name = "predictions"
    label = "predictions"
    verbose_name = "Lines on Graphs"

    def ready(self) -> None:
        register(
            Section(
                key=self.label,
                order=10,
                title="Lines on Graphs",
                idea="Write down where a metric is going before the evidence arrives. Predictions "
                "freeze when committed and are scored against reality every quarter.",
                action="Add your first metric",
                nav_label="Lines on Graphs",
                url_name="predictions:metric_list",
                nav_paths=("/metrics/", "/predictions/"),
                summary="predictions.dashboard.summary",
                demo="predictions.demo.seed",
                activities=("prediction_review",),
            )
        )
