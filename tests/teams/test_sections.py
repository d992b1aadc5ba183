"""The section registry (planning/sections.py): every feature app registers itself once, and the
navigation, dashboard, demo, cadence links and team creation are built from it."""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from planning import sections
from planning.cadences.models import Cadence, Kind
from planning.teams.services import create_team
from tests.factories import UserFactory

NAV = [
    "Lines on Graphs",
    "Lighting-Up",
    "Bottlenecks",
    "Saturation",
    "Cadences",
    "Quarterly review",
]


def test_every_feature_app_registers_one_section_in_a_fixed_order():
    keys = [s.key for s in sections.all_sections()]
    assert keys == ["predictions", "audits", "bottlenecks", "saturation", "cadences", "reviews"]
    assert [s.nav_label for s in sections.all_sections()] == NAV
    # demo data and new-team hooks run in INSTALLED_APPS order
    in_order = [s.key for s in sections.in_app_order()]
    assert in_order == ["cadences", "bottlenecks", "saturation", "reviews", "predictions", "audits"]


def test_registering_again_is_harmless_but_a_different_section_is_refused():
    section = sections.all_sections()[0]
    sections.register(section)
    assert sections.all_sections()[0] is section
    with pytest.raises(ImproperlyConfigured):
        sections.register(dataclasses.replace(section, title="Something else"))


def test_navigation_lists_the_sections_and_marks_the_current_one(owner_client, team):
    page = owner_client.get(reverse("saturation:formfactor_list", kwargs={"team": team.slug}))
    nav = re.search(r'<nav class="section-nav".*?</nav>', page.text, re.S).group(0)
    assert re.findall(r">([^<>]+)</a>", nav) == NAV
    current = re.findall(r'<a href="([^"]+)" aria-current="page">', nav)
    assert current == [reverse("saturation:formfactor_list", kwargs={"team": team.slug})]


def test_dashboard_cards_link_every_section(owner_client, team):
    text = owner_client.get(reverse("teams:dashboard", kwargs={"team": team.slug})).text
    for section in sections.all_sections():
        card = re.search(rf'id="section-{section.key}".*?</article>', text, re.S).group(0)
        assert f'<a href="{section.url(team)}">{section.title}</a>' in card


@pytest.mark.parametrize("kind", [k for k in Kind if k not in (Kind.RETROSPECTIVE, Kind.CUSTOM)])
def test_a_cadence_opens_the_section_that_registered_its_kind(team, kind):
    cadence = Cadence.objects.create(team=team, kind=kind, title="x", rrule="FREQ=WEEKLY")
    section = sections.for_activity(kind)
    assert section is not None and cadence.activity_path() == section.url(team)


def test_other_cadences_open_their_own_page(team):
    cadence = Cadence.objects.create(team=team, kind=Kind.CUSTOM, title="x", rrule="FREQ=WEEKLY")
    assert sections.for_activity(Kind.CUSTOM) is None
    assert cadence.activity_path() == cadence.get_absolute_url()


def test_creating_a_team_runs_the_registered_hooks(db):
    team = create_team(owner=UserFactory(), name="New", slug="new", time_zone="UTC")
    assert Cadence.objects.filter(team=team).count() == 4  # the cadences section's defaults


def test_seed_demo_seeds_each_section_in_app_order(db, capsys):
    call_command("seed_demo")
    seeded = re.findall(r"^  seeded (.+)$", capsys.readouterr().out, re.M)
    assert seeded == [s.verbose_name for s in sections.in_app_order()]
    assert seeded[0] == "Cadences" and seeded[-1] == "Capability Lighting-Up"
