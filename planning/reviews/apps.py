from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "planning.reviews"
    label = "reviews"
    verbose_name = "Quarterly reviews"
