"""In a real browser: map the workflow, move a slider, watch the bottleneck move."""

import re

import pytest
from playwright.sync_api import expect

from planning.bottlenecks.models import BottleneckMap, Scenario
from planning.teams.models import Membership, Role
from tests.browser.helpers import log_in
from tests.factories import TeamFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_move_a_slider_and_see_the_bottleneck_change(live_server, new_page):
    team = TeamFactory(name="Delivery Team", slug="delivery")
    user = UserFactory(email="lead@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    base = live_server.url
    page = new_page()
    log_in(page, base, user.email)

    page.goto(f"{base}/t/{team.slug}/bottlenecks/")
    expect(page.get_by_text("No bottleneck maps yet")).to_be_visible()
    page.get_by_role("button", name="Map your delivery workflow").click()
    page.get_by_label("Name").fill("Feature delivery")
    page.get_by_label("Start from the example software-delivery workflow").check()
    page.get_by_role("button", name="Create map").click()
    expect(page).to_have_url(re.compile(r"/bottlenecks/\d+/$"))
    bmap = BottleneckMap.objects.get(team=team)

    # Give the example this quarter's speed-ups by editing stages inline.
    def edit(stage, **values):
        page.get_by_role("link", name=f"Edit {stage}").click()
        form = page.get_by_role("form", name=f"Edit {stage}")
        for label, value in values.items():
            form.get_by_label(label).fill(value)
        form.get_by_role("button", name="Save stage").click()
        expect(page.get_by_role("form", name=f"Edit {stage}")).to_have_count(0)

    edit("Code generation", **{"AI speed-up, active (×)": "10"})
    edit("QA", **{"AI speed-up, active (×)": "4"})
    bottleneck = page.locator("#bottleneck-name")
    expect(bottleneck).to_have_text("Security review")
    expect(page.locator("#moved-on")).to_contain_text(
        "Security review moved onto the critical path"
    )

    # A bad number is explained next to the field, and nothing is saved.
    edit_link = page.get_by_role("link", name="Edit Code review")
    edit_link.click()
    form = page.get_by_role("form", name="Edit Code review")
    form.get_by_label("AI speed-up, active (×)").fill("0")
    form.get_by_role("button", name="Save stage").click()
    expect(form).to_contain_text("Use at least 0.01")
    form.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("form", name="Edit Code review")).to_have_count(0)

    # The what-if: no page reload, just the results.
    page.evaluate("window.__still_here = true")
    expect(page.locator("#bn-bars[data-drawn='1']")).to_be_visible()
    slider = page.get_by_role("slider", name=re.compile("Active")).nth(4)  # Security review
    assert page.locator("fieldset.bn-slider").nth(4).locator("legend").inner_text() == (
        "Security review"
    )
    slider.focus()
    slider.press("End")  # as fast as the slider goes: 1000×
    expect(page.locator("fieldset.bn-slider").nth(4).locator("output").first).to_have_text("1,000×")
    expect(bottleneck).to_have_text("Code review")
    expect(page.locator("#results")).to_contain_text("Security review changed from the map")
    expect(page.locator("#bn-bars[data-drawn='1']")).to_be_visible()
    assert page.evaluate("window.__still_here") is True

    # Save what we see as a scenario; the map itself keeps its numbers.
    page.get_by_label("Scenario name").fill("Automated security review")
    page.get_by_role("button", name="Save as scenario").click()
    expect(page.locator("#scenarios")).to_contain_text("Automated security review")
    scenario = Scenario.objects.get(map=bmap)
    security = bmap.stages.get(name="Security review")
    assert scenario.speedups[str(security.pk)]["active"] == 1000
    assert security.speedup_active == 1

    page.get_by_role("link", name="Automated security review").click()
    expect(page.get_by_text("Showing scenario")).to_be_visible()
    expect(bottleneck).to_have_text("Code review")


def test_long_unbroken_map_and_stage_names_fit_a_phone(live_server, browser):
    from planning.bottlenecks.models import Stage
    from tests.browser.helpers import logged_in_context

    team = TeamFactory(name="Flow Team", slug="flow-team")
    user = UserFactory(email="lead@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    long = "Supercalifragilistic" * 6
    bmap = BottleneckMap.objects.create(team=team, name=long[:120], quarter="2026-Q4")
    Stage.objects.create(map=bmap, name=long[:80], order=0, active_hours=4, speedup_active=2)
    Stage.objects.create(map=bmap, name="Review", order=1, active_hours=2, waiting_hours=6)
    context = logged_in_context(browser, live_server.url, user, width=390, height=844)
    page = context.new_page()
    page.goto(f"{live_server.url}{bmap.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')].filter(e => {
            if (e.getBoundingClientRect().right <= 391) return false;
            for (let p = e.parentElement; p; p = p.parentElement)
              if (getComputedStyle(p).overflowX !== 'visible') return false;
            return true;
          }).slice(0, 8).map(e => e.tagName + '.' + e.className)"""
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px: {wide}"
    context.close()
