from django.apps import AppConfig

from planning.sections import Section, register


class ReviewsConfig(AppConfig):
    name = "planning.reviews"
    label = "reviews"
    verbose_name = "Quarterly reviews"

    def ready(self) -> None:
        register(
            Section(
                key=self.label,
                order=60,
                title="Quarterly review",
                idea="Eight guided steps, from looking back at last quarter's predictions to "
                "commitments with owners, ending in a frozen, exportable plan.",
                action="Start this quarter's review",
                nav_label="Quarterly review",
                url_name="reviews:review_list",
                nav_paths=("/reviews/",),
                summary="planning.reviews.dashboard.summary",
                demo="planning.reviews.demo.seed",
                activities=("quarterly_review",),
            )
        )
