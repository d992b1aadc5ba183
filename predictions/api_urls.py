"""The JSON API (/api/v1/…): metrics, observations, predictions and scores (predictions/api.py).
The OpenAPI document is /api/v1/openapi.json, generated from the schemas."""

from .api import api

app_name = "api"  # the namespace django-ninja reverses its own URLs in
urlpatterns = api.urls[0]
