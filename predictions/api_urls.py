"""The JSON API (/api/v1/…). Filled in by Lines on Graphs (metrics, observations, predictions)."""

from django.urls import path  # noqa: F401

app_name = "api"

urlpatterns: list = []
