from __future__ import annotations

import sys
import types

import pytest
from django.urls import reverse

from planning.saturation.demo import seed
from planning.saturation.models import FormFactor, SaturationReading, Status
from planning.saturation.services import audit_capability
from planning.teams.dashboard import dashboard_sections
from tests.factories import FormFactorFactory, SaturationReadingFactory

from .conftest import GROWING, SATURATING

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, team, **kwargs):
    return reverse(f"saturation:{name}", kwargs={"team": team.slug, **kwargs})


def reading_data(**overrides):
    data = {
        "model_name": "Model X",
        "release_date": "2025-06-01",
        "capability": "72.5",
        "capability_source": "Bench",
        "product_value": "64",
        "product_metric": "Task success (%)",
        "product_scale": "linear",
        "cost_per_task": "",
    }
    return {**data, **overrides}


# ----------------------------------------------------------------------------- list & create
def test_empty_list_explains_and_offers_the_first_action(team, editor_client):
    response = editor_client.get(url("formfactor_list", team))
    assert response.status_code == 200
    assert "No form factors tracked yet" in response.text
    assert url("formfactor_create", team) in response.text


def test_list_shows_status_and_verdict_badges(team, editor_client, saturating):
    FormFactorFactory(team=team, name="Agent", readings=GROWING)
    response = editor_client.get(url("formfactor_list", team))
    assert "Evidence: Saturating" in response.text
    assert "Evidence: Still growing" in response.text
    assert "Consider the next form factor" in response.text


def test_create_form_factor(team, editor_client):
    response = editor_client.post(
        url("formfactor_create", team),
        {"name": "IDE copilot", "product": "Code", "status": "growing", "notes": ""},
    )
    ff = FormFactor.objects.get(team=team, name="IDE copilot")
    assert response.status_code == 302
    assert response["Location"] == ff.get_absolute_url()


def test_create_rejects_a_duplicate_name_inline_and_keeps_input(team, editor_client, form_factor):
    response = editor_client.post(
        url("formfactor_create", team),
        {"name": "chat ASSISTANT", "product": "Kept product", "status": "growing"},
        **HTMX,
    )
    assert response.status_code == 400
    assert "already tracks a form factor with this name" in response.text
    assert 'value="Kept product"' in response.text
    assert FormFactor.objects.filter(team=team).count() == 1


def test_next_form_factor_prompt_creates_a_linked_successor(team, editor_client, saturating):
    page = editor_client.get(saturating.get_absolute_url())
    prompt_url = url("formfactor_create", team) + f"?previous={saturating.pk}"
    assert prompt_url in page.text
    form = editor_client.get(prompt_url)
    assert "The form factor after Chat" in form.text
    assert 'value="Help desk"' in form.text  # product carried over
    response = editor_client.post(
        prompt_url,
        {"name": "Agent", "product": "Help desk", "status": "growing", "previous": saturating.pk},
    )
    agent = FormFactor.objects.get(team=team, name="Agent")
    assert response["Location"] == agent.get_absolute_url()
    saturating.refresh_from_db()
    assert saturating.next_form_factor == agent
    assert (
        "Consider the next form factor" not in editor_client.get(saturating.get_absolute_url()).text
    )


def test_previous_from_another_team_is_ignored(team, other_team, editor_client):
    foreign = FormFactorFactory(team=other_team, name="Theirs")
    editor_client.post(
        url("formfactor_create", team) + f"?previous={foreign.pk}",
        {"name": "Ours", "status": "growing"},
    )
    foreign.refresh_from_db()
    assert foreign.next_form_factor is None


def test_edit_and_status(team, editor_client, form_factor):
    other = FormFactorFactory(team=team, name="Agent")
    response = editor_client.post(
        url("formfactor_edit", team, pk=form_factor.pk),
        {"name": "Chat assistant", "status": "saturated", "next_form_factor": other.pk},
    )
    assert response.status_code == 302
    form_factor.refresh_from_db()
    assert form_factor.status == Status.SATURATED and form_factor.next_form_factor == other


def test_edit_offers_only_this_teams_form_factors(team, other_team, editor_client, form_factor):
    foreign = FormFactorFactory(team=other_team, name="Foreign")
    response = editor_client.post(
        url("formfactor_edit", team, pk=form_factor.pk),
        {"name": "Chat assistant", "status": "growing", "next_form_factor": foreign.pk},
    )
    assert response.status_code == 400
    form_factor.refresh_from_db()
    assert form_factor.next_form_factor is None


def test_delete(team, editor_client, saturating):
    response = editor_client.post(url("formfactor_delete", team, pk=saturating.pk))
    assert response.status_code == 302
    assert not FormFactor.objects.filter(pk=saturating.pk).exists()
    assert not SaturationReading.objects.filter(form_factor_id=saturating.pk).exists()


# ----------------------------------------------------------------------------- tenancy
def test_another_teams_form_factor_is_404(team, other_team, editor_client):
    foreign = FormFactorFactory(team=other_team, name="Theirs", readings=GROWING)
    reading = foreign.readings.first()
    for name, kwargs in [
        ("formfactor", {}),
        ("formfactor_edit", {}),
        ("readings_csv", {}),
    ]:
        assert editor_client.get(url(name, team, pk=foreign.pk, **kwargs)).status_code == 404
    for name, kwargs in [
        ("formfactor_edit", {}),
        ("formfactor_delete", {}),
        ("reading_add", {}),
        ("reading_import", {}),
        ("reading_delete", {"reading_pk": reading.pk}),
    ]:
        response = editor_client.post(url(name, team, pk=foreign.pk, **kwargs), reading_data())
        assert response.status_code == 404, name
    assert FormFactor.objects.filter(pk=foreign.pk).exists()
    assert foreign.readings.count() == len(GROWING)


def test_a_reading_of_another_form_factor_is_404(team, editor_client, form_factor, saturating):
    reading = saturating.readings.first()
    response = editor_client.post(
        url("reading_delete", team, pk=form_factor.pk, reading_pk=reading.pk)
    )
    assert response.status_code == 404
    assert SaturationReading.objects.filter(pk=reading.pk).exists()


def test_outsider_gets_404(team, outsider_client, saturating):
    assert outsider_client.get(saturating.get_absolute_url()).status_code == 404
    assert outsider_client.get(url("formfactor_list", team)).status_code == 404


def test_viewer_reads_but_cannot_change(team, viewer_client, saturating):
    page = viewer_client.get(saturating.get_absolute_url())
    assert page.status_code == 200
    assert 'id="reading-form"' not in page.text
    assert "Add a reading" not in page.text
    response = viewer_client.post(url("reading_add", team, pk=saturating.pk), reading_data())
    assert response.status_code == 403
    assert viewer_client.post(url("formfactor_delete", team, pk=saturating.pk)).status_code == 403
    assert saturating.readings.count() == len(SATURATING)


# ----------------------------------------------------------------------------- detail & readings
def test_detail_shows_verdict_evidence_and_charts(team, editor_client, saturating):
    page = editor_client.get(saturating.get_absolute_url())
    assert page.status_code == 200
    assert 'data-verdict="saturating"' in page.text
    assert "The last 3 model generations (Model 3 → Model 6) raised capability" in page.text
    assert 'id="sat-scatter"' in page.text and 'id="sat-timeline"' in page.text
    assert "Fitted logistic" in page.text and "Ceiling" in page.text
    assert "nan" not in page.text.lower().split()
    assert "NaN" not in page.text


def test_detail_with_one_reading_says_not_enough_evidence(team, editor_client, form_factor):
    SaturationReadingFactory.series(form_factor, [(50, 60)])
    page = editor_client.get(form_factor.get_absolute_url())
    assert "Not enough evidence yet: only 1 comparable reading" in page.text
    assert "NaN" not in page.text


def test_add_reading_inline_updates_the_verdict(team, editor_client, form_factor):
    SaturationReadingFactory.series(form_factor, SATURATING[:4])  # 5 readings are needed
    form_factor.refresh_from_db()
    assert form_factor.verdict == "insufficient"
    response = editor_client.post(
        url("reading_add", team, pk=form_factor.pk),
        reading_data(model_name="Model 9", capability="70", product_value="67.6"),
        **HTMX,
    )
    assert response.status_code == 200
    assert 'id="workspace"' in response.text
    assert "<html" not in response.text  # only the partial
    assert 'data-verdict="insufficient"' not in response.text
    form_factor.refresh_from_db()
    assert form_factor.readings.count() == 5
    assert form_factor.verdict != "insufficient"


def test_each_write_analyses_the_readings_once(team, editor_client, saturating, monkeypatch):
    """The analysis takes tens of milliseconds: a write stores the verdict and shows it from
    the same computation."""
    from planning.saturation import services

    calls = []
    real = services.analyse
    monkeypatch.setattr(services, "analyse", lambda readings: calls.append(1) or real(readings))
    add = editor_client.post(
        url("reading_add", team, pk=saturating.pk), reading_data(model_name="Model 99"), **HTMX
    )
    assert add.status_code == 200 and "Model 99" in add.text
    assert len(calls) == 1
    reading = saturating.readings.get(model_name="Model 99")
    delete = editor_client.post(
        url("reading_delete", team, pk=saturating.pk, reading_pk=reading.pk), **HTMX
    )
    assert delete.status_code == 200 and "Model 99" not in delete.text
    assert len(calls) == 2
    imported = upload(editor_client, team, saturating, CSV_OK)
    assert imported.status_code == 200 and "Imported 5 readings" in imported.text
    assert len(calls) == 3


def test_add_reading_errors_inline_and_keeps_input(team, editor_client, form_factor):
    response = editor_client.post(
        url("reading_add", team, pk=form_factor.pk),
        reading_data(model_name="Kept name", product_value="-5", product_scale="log"),
        **HTMX,
    )
    assert response.status_code == 400
    assert "A log scale needs a value above zero" in response.text
    assert 'value="Kept name"' in response.text
    assert 'value="72.5"' in response.text
    assert not form_factor.readings.exists()


def test_duplicate_model_generation_is_refused(team, editor_client, saturating):
    response = editor_client.post(
        url("reading_add", team, pk=saturating.pk), reading_data(model_name="model 2"), **HTMX
    )
    assert response.status_code == 400
    assert "model 2 already has a reading here" in response.text
    assert saturating.readings.count() == len(SATURATING)


def test_missing_capability_without_audits_is_explained(team, editor_client, form_factor):
    response = editor_client.post(
        url("reading_add", team, pk=form_factor.pk), reading_data(capability=""), **HTMX
    )
    assert response.status_code == 400
    assert "set the source to “audits”" in response.text


def test_delete_reading_refreshes_the_verdict(team, editor_client, saturating):
    reading = saturating.readings.order_by("-release_date").first()
    for r in list(saturating.readings.order_by("-release_date"))[:4]:
        response = editor_client.post(
            url("reading_delete", team, pk=saturating.pk, reading_pk=r.pk), **HTMX
        )
        assert response.status_code == 200
    assert not SaturationReading.objects.filter(pk=reading.pk).exists()
    saturating.refresh_from_db()
    assert saturating.verdict == "insufficient"


# ----------------------------------------------------------------------------- audits
@pytest.fixture
def fake_audits(monkeypatch):
    module = types.ModuleType("audits.stats")
    module.calls = []

    def pass_rate_by_model(team):
        module.calls.append(team)
        return {"Model Audited": 0.62}

    module.pass_rate_by_model = pass_rate_by_model
    monkeypatch.setitem(sys.modules, "audits.stats", module)
    return module


def test_audit_capability_reads_the_pass_rate(team, fake_audits):
    assert audit_capability(team, "model audited") == 0.62
    assert audit_capability(team, "Unknown") is None
    assert fake_audits.calls == [team, team]


def test_empty_capability_with_audits_source_is_filled(
    team, editor_client, form_factor, fake_audits
):
    response = editor_client.post(
        url("reading_add", team, pk=form_factor.pk),
        reading_data(model_name="Model Audited", capability="", capability_source="audits"),
        **HTMX,
    )
    assert response.status_code == 200
    reading = form_factor.readings.get()
    assert reading.capability == 0.62 and reading.audit_derived
    assert "(pass rate)" in response.text


def test_audits_source_without_a_pass_rate_is_explained(
    team, editor_client, form_factor, fake_audits
):
    response = editor_client.post(
        url("reading_add", team, pk=form_factor.pk),
        reading_data(model_name="Model Z", capability="", capability_source="audits"),
        **HTMX,
    )
    assert response.status_code == 400
    assert "Your audits have no pass rate for Model Z yet" in response.text
    assert not form_factor.readings.exists()


def test_a_typed_capability_wins_over_audits(team, editor_client, form_factor, fake_audits):
    editor_client.post(
        url("reading_add", team, pk=form_factor.pk),
        reading_data(model_name="Model Audited", capability="0.7", capability_source="audits"),
    )
    assert form_factor.readings.get().capability == 0.7
    assert fake_audits.calls == []


# ----------------------------------------------------------------------------- CSV
CSV_OK = (
    "model_name,release_date,capability,capability_source,product_value,product_metric,"
    "product_scale,cost_per_task\n"
    "A,2024-01-01,30,Bench,40,Task success (%),linear,0.01\n"
    "B,2024-04-01,40,Bench,55,Task success (%),,\n"
    "C,2024-07-01,50,Bench,63,Task success (%),linear,\n"
    "D,2024-10-01,60,Bench,66.5,Task success (%),linear,\n"
    "E,2025-01-01,70,Bench,67.6,Task success (%),linear,\n"
)


def upload(client, team, ff, text, name="readings.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post(url("reading_import", team, pk=ff.pk), {"file": file}, **HTMX)


def test_csv_import_adds_every_row(team, editor_client, form_factor):
    response = upload(editor_client, team, form_factor, CSV_OK)
    assert response.status_code == 200
    assert "Imported 5 readings" in response.text
    assert list(form_factor.readings.values_list("model_name", flat=True)) == list("ABCDE")
    form_factor.refresh_from_db()
    assert form_factor.verdict != "insufficient"


def test_csv_import_is_all_or_nothing_with_row_errors(team, editor_client, form_factor):
    bad = CSV_OK + "G,not a date,70,Bench,67,Task success (%),linear,\n"
    bad += "A,2025-01-01,80,Bench,68,Task success (%),linear,\n"
    bad += "F,2025-03-01,90,Bench,-1,Task success (%),log,\n"
    response = upload(editor_client, team, form_factor, bad)
    assert response.status_code == 400
    assert "Nothing was imported" in response.text
    assert "Line 7: release_date: Enter a valid date." in response.text
    assert "Line 8: model_name: A is already on line 2." in response.text
    assert "Line 9: product_value: A log scale needs a value above zero" in response.text
    assert not form_factor.readings.exists()


def test_csv_import_refuses_existing_models_and_bad_headers(team, editor_client, form_factor):
    upload(editor_client, team, form_factor, CSV_OK)
    again = upload(editor_client, team, form_factor, CSV_OK)
    assert again.status_code == 400
    assert "Line 2: model_name: A already has a reading here" in again.text
    assert form_factor.readings.count() == 5
    headerless = upload(editor_client, team, form_factor, "a,b\n1,2\n")
    assert headerless.status_code == 400 and "Missing columns:" in headerless.text
    binary = upload(editor_client, team, form_factor, "")
    assert binary.status_code == 400


def test_csv_import_looks_names_and_audits_up_once_per_file(
    team, editor_client, form_factor, fake_audits
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    header = CSV_OK.splitlines()[0] + "\n"

    def rows(first, n):
        return "".join(
            f"M{i},2024-01-{1 + i % 28:02d},,audits,{40 + i},Task success (%),linear,\n"
            for i in range(first, first + n)
        )

    fake_audits.pass_rate_by_model = lambda team: (
        fake_audits.calls.append(team) or {f"m{i}": 0.5 + i / 1000 for i in range(100)}
    )
    editor_client.get(url("formfactor_list", team))  # the session learns its team once
    with CaptureQueriesContext(connection) as small:
        assert upload(editor_client, team, form_factor, header + rows(0, 2)).status_code == 200
    with CaptureQueriesContext(connection) as large:
        assert upload(editor_client, team, form_factor, header + rows(2, 40)).status_code == 200
    assert len(large) == len(small)
    assert fake_audits.calls == [team, team]  # one look-up per file
    assert form_factor.readings.get(model_name="M41").capability == pytest.approx(0.541)
    again = upload(editor_client, team, form_factor, header + rows(40, 1))
    assert again.status_code == 400
    assert "Line 2: model_name: M40 already has a reading" in again.text


def test_csv_export_round_trips(team, editor_client, form_factor, saturating):
    response = editor_client.get(url("readings_csv", team, pk=saturating.pk))
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert text.splitlines()[0].startswith("model_name,release_date,capability")
    imported = upload(editor_client, team, form_factor, text)
    assert imported.status_code == 200
    assert form_factor.readings.count() == len(SATURATING)


# ----------------------------------------------------------------------------- queries
def test_list_queries_are_constant(team, editor_client, django_assert_max_num_queries):
    for i in range(2):
        FormFactorFactory(team=team, name=f"FF {i}", readings=GROWING)
    editor_client.get(url("formfactor_list", team))  # warm caches (content types, session)
    with django_assert_max_num_queries(10) as small:
        editor_client.get(url("formfactor_list", team))
    for i in range(2, 12):
        FormFactorFactory(team=team, name=f"FF {i}", readings=GROWING)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = editor_client.get(url("formfactor_list", team))
    assert response.text.count('class="card sat-card"') == 12


def test_detail_queries_are_constant(
    team, editor_client, form_factor, django_assert_max_num_queries
):
    SaturationReadingFactory.series(form_factor, SATURATING[:2])
    editor_client.get(form_factor.get_absolute_url())
    with django_assert_max_num_queries(10) as small:
        editor_client.get(form_factor.get_absolute_url())
    SaturationReading.objects.filter(form_factor=form_factor).delete()
    SaturationReadingFactory.series(
        form_factor, SATURATING + [(95 + i, 68.3 + i / 100) for i in range(20)]
    )
    with django_assert_max_num_queries(len(small.captured_queries)):
        editor_client.get(form_factor.get_absolute_url())


# ----------------------------------------------------------------------------- dashboard & demo
def test_dashboard_badges_saturating_form_factors(team, editor_client, saturating,
                                                   django_assert_num_queries):  # fmt: skip
    FormFactorFactory(team=team, name="Agent", readings=GROWING)
    with django_assert_num_queries(1):
        from planning.saturation.dashboard import summary

        data = summary(team)
    assert data["total"] == 2 and data["growing"] == 1
    assert [r["name"] for r in data["saturating"]] == ["Chat"]
    page = editor_client.get(reverse("teams:dashboard", kwargs={"team": team.slug}))
    assert "2 form factors tracked, 1 still growing" in page.text
    assert saturating.get_absolute_url() in page.text
    assert "no next form factor yet" in page.text


def test_dashboard_without_form_factors(team):
    section = next(s for s in dashboard_sections(team) if s["section"].key == "saturation")
    assert section["summary"] is None
    assert section["url"] == url("formfactor_list", team)


def test_demo_seed_is_idempotent_and_tells_the_story(team, owner):
    seed(team, owner)
    seed(team, owner)
    chat = FormFactor.objects.get(team=team, name="Chat assistant")
    agent = FormFactor.objects.get(team=team, name="Autonomous agent")
    assert FormFactor.objects.filter(team=team).count() == 2
    assert chat.readings.count() == 8 and agent.readings.count() == 5
    assert chat.verdict == "saturating" and agent.verdict == "growing"
    assert chat.next_form_factor == agent


# ----------------------------------------------------------------------------- status badge
def test_status_follows_the_verdict_until_a_person_sets_it(team, editor, editor_client):
    ff = FormFactorFactory(team=team, name="Chat")
    SaturationReadingFactory.series(ff, SATURATING)
    ff.refresh_from_db()
    assert ff.verdict == "saturating" and ff.status == Status.SATURATING
    assert not ff.status_by_hand
    page = editor_client.get(ff.get_absolute_url()).text
    assert 'data-status="saturating">Saturating</span> <small class="muted">follows the' in page
    assert 'id="status-by-hand"' not in page
    # A person says "growing": kept, and the page says it was set by hand, against the data.
    editor_client.post(
        url("formfactor_edit", team, pk=ff.pk), {"name": "Chat", "status": "growing"}
    )
    ff.refresh_from_db()
    assert ff.status_by_hand and ff.status == Status.GROWING and ff.status_set_by == editor
    page = editor_client.get(ff.get_absolute_url()).text
    assert "set by hand by" in page
    assert "The status “Growing” was set by hand; the readings say “Saturating”." in page
    listing = editor_client.get(url("formfactor_list", team)).text
    assert "Growing <small>(set by hand)</small>" in listing
    # New readings do not overrule the person...
    editor_client.post(
        url("reading_add", team, pk=ff.pk),
        reading_data(model_name="Model 99", capability="95", product_value="68.3"),
    )
    ff.refresh_from_db()
    assert ff.readings.count() == len(SATURATING) + 1
    assert ff.status == Status.GROWING
    # ...until the status is handed back to the readings.
    editor_client.post(url("formfactor_edit", team, pk=ff.pk), {"name": "Chat", "status": "follow"})
    ff.refresh_from_db()
    assert not ff.status_by_hand and ff.status == Status.SATURATING
    assert ff.status_set_by is None


def test_a_status_that_follows_shows_too_early_to_tell(team, editor_client, form_factor):
    SaturationReadingFactory.series(form_factor, SATURATING[:2])
    page = editor_client.get(form_factor.get_absolute_url()).text
    assert "Too early to tell</span>" in page and "Growing</span>" not in page


def test_csv_import_of_astronomical_values_is_refused_not_a_500(team, editor_client, form_factor):
    # Five readings near 10³⁰⁷ overflowed the curve fits (OverflowError, a 500 on import).
    rows = "".join(
        f"H{i},2025-0{i}-01,{i}e307,Bench,{i}e307,Task success (%),linear,\n" for i in range(1, 6)
    )
    response = upload(editor_client, team, form_factor, CSV_OK.splitlines()[0] + "\n" + rows)
    assert response.status_code == 400
    assert "Line 2: capability: Enter a number between -10¹² and 10¹²" in response.text
    assert "Line 2: product_value: Enter a number between -10¹² and 10¹²" in response.text
    assert not form_factor.readings.exists()
    # A trillion is still a number the fits handle.
    rows = "".join(
        f"T{i},2025-0{i}-01,{i * 10},Bench,{i * 2e11:.0f},Revenue ($),linear,\n"
        for i in range(1, 6)
    )
    response = upload(editor_client, team, form_factor, CSV_OK.splitlines()[0] + "\n" + rows)
    assert response.status_code == 200 and form_factor.readings.count() == 5


def test_a_status_set_by_hand_does_not_claim_what_the_readings_do_not_show(
    team, editor_client, form_factor
):
    # Saturated by hand with no readings: the prompt may ask for the next form factor, but
    # "new model generations barely move it" is the readings' claim to make, not the team's.
    editor_client.post(
        url("formfactor_edit", team, pk=form_factor.pk),
        {"name": form_factor.name, "status": "saturated"},
    )
    body = editor_client.get(url("formfactor", team, pk=form_factor.pk)).text
    assert "The team marked “Chat assistant” as saturated." in body
    assert "barely move it" not in body


def test_saturating_readings_still_say_generations_barely_move_it(team, editor_client, saturating):
    body = editor_client.get(url("formfactor", team, pk=saturating.pk)).text
    assert "is saturating.</strong> New model generations barely move it." in body
