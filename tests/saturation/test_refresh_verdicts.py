"""Stored verdicts follow the analysis: the release step recomputes them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from planning.saturation.models import FormFactor
from planning.saturation.services import refresh_verdict

pytestmark = pytest.mark.django_db


def test_refresh_verdicts_rewrites_a_stale_sentence_and_counts(saturating, other_team):
    from tests.factories import FormFactorFactory

    theirs = FormFactorFactory(team=other_team, name="Agent")
    refresh_verdict(saturating)
    refresh_verdict(theirs)
    fresh = FormFactor.objects.get(pk=saturating.pk).verdict_headline
    FormFactor.objects.filter(pk=saturating.pk).update(verdict_headline="Growth fits best.")
    out = StringIO()
    call_command("refresh_verdicts", stdout=out)
    assert FormFactor.objects.get(pk=saturating.pk).verdict_headline == fresh
    assert "Saturation verdicts: 1 of 2 changed." in out.getvalue()  # every team's, once
    call_command("refresh_verdicts", stdout=out)
    assert out.getvalue().endswith("Saturation verdicts: 0 of 2 changed.\n")
    assert FormFactor.objects.get(pk=theirs.pk).verdict_headline
