"""Recompute every form factor's stored verdict from its readings.

The saturation list and the dashboard show the verdict stored when a reading last changed;
after the analysis itself changes, run this once (the Procfile's release step and `make run`
do, on every deploy and start) so no list keeps a sentence the analysis no longer makes.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from planning.saturation.models import FormFactor
from planning.saturation.services import refresh_verdict


class Command(BaseCommand):
    help = "Recompute every form factor's stored verdict from its readings."

    def handle(self, *args, **options) -> None:
        seen = changed = 0
        for form_factor in FormFactor.objects.prefetch_related("readings").iterator(chunk_size=200):
            before = (form_factor.verdict, form_factor.verdict_headline, form_factor.status)
            refresh_verdict(form_factor)
            seen += 1
            after = (form_factor.verdict, form_factor.verdict_headline, form_factor.status)
            changed += before != after
        self.stdout.write(f"Saturation verdicts: {changed} of {seen} changed.")
