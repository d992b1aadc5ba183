"""The logged-out home page, and the time zones a team can choose."""

from __future__ import annotations

from planning.teams.forms import TeamForm, time_zone_choices


def _values(choices) -> set[str]:
    out = set()
    for value, label in choices:
        if isinstance(label, list):
            out |= {v for v, _ in label}
        else:
            out.add(value)
    return out


def test_a_visitor_at_home_sees_what_exponent_is_and_how_to_start(client, db):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for part in ("Lines on Graphs", "Capability Lighting-Up", "Bottleneck maps", "Saturation",
                 "Light and Shade", "Quarterly review"):  # fmt: skip
        assert part in html, part
    assert 'href="/accounts/login/"' in html and 'href="/accounts/signup/"' in html
    assert "img/landing-metric" in html


def test_time_zone_list_has_real_places_only():
    values = _values(time_zone_choices())
    assert {"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"} <= values
    for relic in ("localtime", "W-SU", "US/Eastern", "Etc/GMT+5", "EST5EDT", "GB", "Japan"):
        assert relic not in values, relic


def test_a_team_on_a_legacy_zone_keeps_it_when_editing(team):
    team.time_zone = "US/Eastern"
    team.save()
    form = TeamForm(instance=team)
    assert "US/Eastern" in _values(form.fields["time_zone"].choices)
    assert "data-browser-timezone" not in str(form["time_zone"])


def test_a_new_team_form_asks_the_browser_for_its_zone(db):
    assert "data-browser-timezone" in str(TeamForm()["time_zone"])
    assert "data-browser-timezone" not in str(TeamForm(data={"name": "x"})["time_zone"])
