"""The JSON API (/api/v1/…): metrics, observations, predictions and scores (predictions/api.py)."""

from django.urls import path

from . import api

app_name = "api"

urlpatterns = [
    path("openapi.json", api.openapi_document, name="openapi"),
    path("t/<slug:team>/metrics/", api.metrics, name="metrics"),
    path("t/<slug:team>/metrics/<int:pk>/", api.metric_detail, name="metric"),
    path("t/<slug:team>/metrics/<int:pk>/observations/", api.observations, name="observations"),
    path("t/<slug:team>/predictions/", api.predictions, name="predictions"),
    path("t/<slug:team>/predictions/<int:pk>/", api.prediction_detail, name="prediction"),
    path("t/<slug:team>/predictions/<int:pk>/commit/", api.prediction_commit, name="commit"),
    path("t/<slug:team>/predictions/<int:pk>/scores/", api.prediction_scores, name="scores"),
]
