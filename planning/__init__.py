"""Exponent's project package: settings, URLs, the Celery app and the planning domain."""

from .celery import app as celery_app

__all__ = ["celery_app"]
