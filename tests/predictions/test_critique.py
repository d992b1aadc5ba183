"""The Claude critique on the prediction form (issue 19): gated by the facilitator setting and
the monthly budget, editors only, another team's metric 404; against the fake Messages API it
critiques the rationale with the outside view, records its cost, and never touches the
prediction."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat

from audits.models import Model, Price
from planning.facilitator.models import FacilitatorSetting
from planning.facilitator.services import spent_this_month
from planning.live.models import LiveEvent, LiveSession
from predictions import critique as pure
from predictions.models import Critique, Prediction
from predictions.tasks import critique_rationale
from predictions.trajectory import DAYS_PER_YEAR
from tests.audits import fake
from tests.conftest import wait_for
from tests.factories import ObservationFactory

from .test_views import prediction_data, url

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _point_at_fake(settings):
    settings.ANTHROPIC_BASE_URL = fake.URL
    settings.ANTHROPIC_API_KEY = "test-key"


@pytest.fixture
def sim_model(db):
    Price.objects.create(
        model_id="sim-claude-4", input_per_mtok=Decimal(3), output_per_mtok=Decimal(15)
    )
    return Model.objects.create(model_id="sim-claude-4-20260115", display_name="Sim 4")


@pytest.fixture
def enabled(team, sim_model):
    return FacilitatorSetting.objects.create(team=team, enabled=True, monthly_budget_usd=5)


def _critique(client, metric, **data):
    return client.post(
        url("critique_start", metric.team, pk=metric.pk), prediction_data(**data), headers=HX
    )


def test_the_prompt_carries_the_outside_view_and_the_fake_names_the_metric():
    sent = pure.user_prompt(
        metric="Task horizon", unit="minutes", scale="Log", claim="Doubling every 7 months",
        kind="Line", horizon="2027-12-31", line="×3.3 per year (doubling every 7.0 months)",
        history="×2 per year (doubling every 12.0 months), fitted to 9 observations.",
        comparison="Your line assumes a growth rate 1.7× faster than the metric's own history.",
        rationale="Labs keep scaling.",
    )  # fmt: skip
    assert sent.splitlines()[0] == "Metric: Task horizon (unit: minutes)"
    assert "The author's track record: no scored lines yet" in sent
    assert sent.endswith("Rationale:\nLabs keep scaling.")
    answer = pure.scripted_critique(sent)
    assert answer.startswith("Base rates: Task horizon's own history is ×2 per year")
    assert "1.7× faster" in answer and "What would change the forecast" in answer
    no_history = sent.replace(
        "×2 per year (doubling every 12.0 months), fitted to 9 observations.",
        "Not enough history for a trend: 1 observation (a trend needs at least 3 …).",
    )
    assert pure.scripted_critique(no_history).startswith(
        "Base rates: Task horizon has too little history for a trend"
    )
    assert len(pure.user_prompt(metric="m", unit="", scale="Log", claim="c", kind="Line",
                                horizon="2027-01-01", rationale="x" * 50_000)) < 6200  # fmt: skip


@pytest.mark.django_db
def test_off_by_default_the_critique_is_refused_and_nothing_is_sent(
    team, metric, editor_client, owner_client, sim_model
):
    form = editor_client.get(url("prediction_create", team, pk=metric.pk)).text
    assert "Claude's critique" in form and "Ask Claude to critique" not in form
    assert (
        "Turn on the Claude facilitator"
        in owner_client.get(url("prediction_create", team, pk=metric.pk)).text
    )
    response = _critique(editor_client, metric)
    assert response.status_code == 400
    assert "the Claude facilitator is off for this team" in response.text
    assert not Critique.objects.exists() and not LiveSession.objects.exists()
    assert not Prediction.objects.exists()


@pytest.mark.django_db
def test_a_spent_budget_refuses_the_critique(team, metric, editor, editor_client, enabled):
    Critique.objects.create(team=team, metric=metric, status="ready", cost_usd=Decimal(5))
    assert spent_this_month(team) == Decimal(5)  # critiques count against the team budget
    response = _critique(editor_client, metric)
    assert response.status_code == 400
    assert "budget is spent ($5.00 of $5.00)" in response.text
    assert Critique.objects.count() == 1 and not LiveSession.objects.exists()


@pytest.mark.django_db
def test_it_needs_a_rationale_and_a_valid_form(team, metric, editor_client, enabled):
    response = _critique(editor_client, metric, rationale="   ")
    assert response.status_code == 400 and "Write a rationale first" in response.text
    response = _critique(editor_client, metric, horizon="not a date")
    assert response.status_code == 400 and "Fix the highlighted fields" in response.text
    assert not Critique.objects.exists()


@pytest.mark.django_db
def test_viewers_cannot_ask_and_another_teams_metric_is_404(
    team, metric, viewer_client, outsider_client, other_team, enabled
):
    form = viewer_client.get(url("prediction_create", team, pk=metric.pk))
    assert "Ask Claude to critique" not in form.text
    assert _critique(viewer_client, metric).status_code == 403
    FacilitatorSetting.objects.create(team=other_team, enabled=True)
    response = outsider_client.post(
        url("critique_start", other_team, pk=metric.pk), prediction_data(), headers=HX
    )
    assert response.status_code == 404
    mine = Critique.objects.create(team=team, metric=metric, status="ready", text="secret")
    panel = url("critique_panel", other_team, pk=metric.pk, cid=mine.pk)
    assert outsider_client.get(panel).status_code == 404
    assert not Critique.objects.exclude(pk=mine.pk).exists()


@pytest.mark.django_db
def test_a_failed_call_records_what_it_cost_and_says_so(
    fake_api, team, metric, editor_client, enabled
):
    assert _critique(editor_client, metric).status_code == 200
    row = Critique.objects.get()
    Critique.objects.filter(pk=row.pk).update(model="no-such-model")  # the API answers 404
    assert critique_rationale.apply(args=(row.pk,)).get() == "failed"
    row.refresh_from_db()
    assert row.status == "failed" and row.error == "The model call failed (not found)."
    panel = editor_client.get(url("critique_panel", team, pk=metric.pk, cid=row.pk)).text
    assert "The critique did not finish: The model call failed (not found)." in panel


@pytest.mark.django_db(transaction=True)
def test_the_critique_streams_from_a_worker_and_never_changes_the_prediction(
    celery_worker_process, fake_api, team, editor, metric, editor_client, enabled
):
    start = date.today() - timedelta(days=720)
    values = [100 * 2 ** (i * 91 / DAYS_PER_YEAR) for i in range(9)]  # doubling yearly
    ObservationFactory.series(metric, start, values, step_days=91)
    form = editor_client.get(url("prediction_create", team, pk=metric.pk)).text
    assert "Ask Claude to critique the rationale" in form and 'src="/static/js/assist.js' in form

    response = _critique(
        editor_client, metric, baseline_date=start.isoformat(), doubling_months="6"
    )
    assert response.status_code == 200
    row = Critique.objects.get()
    assert f'id="live-{row.session_id}"' in response.text
    assert "×4 per year (doubling every 6.0 months)" in row.sent  # the outside view is sent
    assert "fitted to 9 observations" in row.sent and "METR" in row.sent
    assert wait_for(lambda: LiveSession.objects.get(pk=row.session_id).status != "active")
    row.refresh_from_db()
    assert row.status == "ready", row.error
    assert row.text.startswith(f"Base rates: {metric.name}'s own history is ×2 per year")
    assert row.input_tokens > 0 and row.output_tokens > 0 and row.cost_usd > 0
    assert LiveEvent.objects.filter(session_id=row.session_id, type="result").exists()
    assert spent_this_month(team) == row.cost_usd

    panel = editor_client.get(url("critique_panel", team, pk=metric.pk, cid=row.pk)).text
    assert "What would change the forecast" in panel and f"${floatformat(row.cost_usd, 4)}" in panel
    assert "A critique, not a change" in panel and "Critique again" in panel
    assert not Prediction.objects.exists()  # asking for a critique saved no prediction


@pytest.mark.django_db
def test_the_settings_page_says_what_the_assists_send_and_lists_their_cost(
    team, metric, owner_client, enabled
):
    Critique.objects.create(
        team=team, metric=metric, status="ready", model="sim-claude-4", cost_usd=Decimal("0.0123")
    )
    page = owner_client.get(f"/t/{team.slug}/settings/facilitator/").text
    assert pure.SYSTEM_MARKER in page and "Propose probes with Claude" in page
    assert "the rationale as typed" in page and "never changes the prediction" in page
    assert f"Critique on “{metric.name}”" in page and "$0.0123" in page
