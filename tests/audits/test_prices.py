"""Prices: a new installation knows Anthropic's list prices, and a model without one is
never shown as costing $0 without saying so (nor given a dollar budget that cannot see it)."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.urls import reverse

from audits import client, runs
from audits.models import AuditRun, Model, Price, without_price
from tests.factories import IdeaFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def list_prices(db):
    """The migration's rows, seeded by the migration's own function (a transactional test
    elsewhere in the run flushes the tables, migration data included)."""
    from django.apps import apps

    migration = importlib.import_module("audits.migrations.0004_list_prices")
    migration.seed(apps, None)
    migration.seed(apps, None)  # twice: get_or_create, an administrator's rows kept
    return migration.LIST_PRICES


def url(name, team, **kw):
    return reverse(f"audits:{name}", kwargs={"team": team.slug, **kw})


@pytest.mark.parametrize(
    ("model_id", "per_mtok"),
    [
        ("claude-opus-4-5-20251101", ("5", "25")),
        ("claude-opus-4-1-20250805", ("15", "75")),
        ("claude-opus-4-20250514", ("15", "75")),
        ("claude-sonnet-4-5-20250929", ("3", "15")),
        ("claude-haiku-4-5-20251001", ("1", "5")),
        ("claude-3-5-haiku-20241022", ("0.8", "4")),
    ],
)
def test_the_migration_seeds_list_prices_longest_prefix_first(list_prices, model_id, per_mtok):
    assert Price.objects.count() == len(list_prices)
    price = client.price_for(model_id)
    assert price is not None
    assert (price.input_per_mtok, price.output_per_mtok) == tuple(map(Decimal, per_mtok))
    # 1,000 input and 1,000 output tokens, by hand
    expected = (Decimal(per_mtok[0]) + Decimal(per_mtok[1])) * 1000 / 1_000_000
    assert client.cost_of(model_id, {"input_tokens": 1000, "output_tokens": 1000}) == expected


def test_without_price_matches_ids_and_prefixes_in_one_query(
    list_prices, django_assert_num_queries
):
    priced = Model.objects.create(model_id="claude-sonnet-4-5-20250929")
    bare = Model.objects.create(model_id="unheard-of-1")
    Price.objects.create(model_id="unheard%", input_per_mtok=1, output_per_mtok=1)  # no LIKE
    with django_assert_num_queries(1):
        assert list(without_price(Model.objects.filter(pk__in=[priced.pk, bare.pk]))) == [bare]


@pytest.fixture
def unpriced(db):
    return Model.objects.create(model_id="sim-unpriced-20260101", display_name="Unpriced")


def test_run_page_says_which_models_have_no_price(owner_client, team, sim_models, unpriced):
    idea = IdeaFactory(team=team)
    priced_run = runs.create_run(team, None, models=list(sim_models), ideas=[idea])
    assert "no price is set" not in owner_client.get(url("run_detail", team, pk=priced_run.pk)).text
    run = runs.create_run(team, None, models=[sim_models[0], unpriced], ideas=[idea])
    for name in ("run_detail", "run_progress"):
        text = owner_client.get(url(name, team, pk=run.pk)).text
        assert "no price is set for sim-unpriced-20260101: its calls count $0" in text, name


def test_models_page_shows_each_price_or_its_absence(owner_client, team, sim_models, unpriced):
    text = owner_client.get(url("model_list", team)).text
    assert "$3 in, $15 out per million tokens" in text  # sim-claude-4's row
    assert "No price: calls count $0" in text


def test_a_dollar_budget_is_refused_for_a_model_without_a_price(
    editor_client, team, sim_models, unpriced
):
    idea = IdeaFactory(team=team)
    data = {"models": [sim_models[0].pk, unpriced.pk], "ideas": [idea.pk], "budget_usd": "5"}
    r = editor_client.post(url("run_create", team), data)
    assert r.status_code == 400
    assert "No price is set for sim-unpriced-20260101, so a dollar budget cannot see its" in r.text
    assert not AuditRun.objects.exists()
    tokens = {**data, "budget_usd": "", "budget_tokens": "10000"}
    assert editor_client.post(url("run_create", team), tokens).status_code == 302
    priced = {**data, "models": [sim_models[0].pk]}
    assert editor_client.post(url("run_create", team), priced).status_code == 302


def test_facilitator_settings_warn_when_the_budget_cannot_see_the_model(
    team, owner_client, sim_models
):
    from planning.facilitator.models import FacilitatorSetting

    page = reverse("facilitator:settings", args=[team.slug])
    setting = FacilitatorSetting.objects.create(team=team, enabled=True, monthly_budget_usd=5)
    assert "No price is set for" not in owner_client.get(page).text  # sim-claude-4: priced
    Price.objects.filter(model_id="sim-claude-4").delete()
    setting.model_id = sim_models[0].model_id
    setting.save()
    assert (
        "No price is set for sim-claude-4-20260115, so its calls count $0 and the budget "
        "cannot stop them" in owner_client.get(page).text
    )


def test_seeding_again_keeps_an_administrators_price(list_prices):
    from django.apps import apps

    Price.objects.filter(model_id="claude-sonnet-4").update(input_per_mtok=Decimal("2.5"))
    importlib.import_module("audits.migrations.0004_list_prices").seed(apps, None)
    assert client.price_for("claude-sonnet-4-5-20250929").input_per_mtok == Decimal("2.5")
