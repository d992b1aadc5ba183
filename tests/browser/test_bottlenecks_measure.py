"""In a real browser at phone width (390 px): upload a pull-request export, map it, compare the
windows before and after a rollout, make the measured version, and find its sliders there."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from planning.bottlenecks.models import BottleneckMap, Stage
from planning.teams.models import Membership, Role
from tests.browser.helpers import logged_in_context
from tests.factories import TeamFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

FIXTURE = Path(__file__).parent.parent / "bottlenecks" / "fixtures" / "github_prs.csv"
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 391)
            .slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id)"""
    )
    assert width <= 390, f"{page.url} is {width} px wide at 390 px: {wide}"


def no_serious_axe_violations(page) -> None:
    page.add_script_tag(content=AXE)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""
    )
    assert found == [], found


def test_measure_a_map_from_pull_requests_on_a_phone(live_server, browser):
    team = TeamFactory(name="Delivery Team", slug="delivery", time_zone="UTC")
    user = UserFactory(email="lead@example.com")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    bmap = BottleneckMap.objects.create(team=team, name="Feature delivery", quarter="2026-Q4")
    for order, (name, active, waiting) in enumerate(
        [("Code generation", 10, 2), ("Code review", 3, 5), ("Deploy", 1, 30)]
    ):
        Stage.objects.create(
            map=bmap, name=name, order=order, active_hours=active, waiting_hours=waiting
        )
    base = live_server.url
    context = logged_in_context(browser, base, user, width=390, height=844, bypass_csp=True)
    page = context.new_page()

    page.goto(f"{base}{bmap.get_absolute_url()}")
    page.get_by_role("button", name="Measure from delivery data").click()
    expect(
        page.get_by_role("heading", name="Measure the stages from delivery data")
    ).to_be_visible()
    fits(page)
    page.get_by_label("GitHub pull requests").check()
    page.get_by_label("CSV file").set_input_files(str(FIXTURE))
    page.get_by_role("button", name="Upload and map the columns").click()

    # The mapping step: gh's column names recognised, stages guessed from the segment names.
    expect(page.get_by_role("heading", name="Measure “Feature delivery”")).to_be_visible()
    expect(page.get_by_label("Merged", exact=True)).to_have_value("mergedAt")
    expect(page.get_by_label("Stage for “merged → deployed”")).to_have_value(
        str(bmap.stages.get(name="Deploy").pk)
    )
    page.locator("#id_window_start").fill("2026-09-01")
    page.locator("#id_window_end").fill("2026-10-31")
    page.get_by_label("AI tool rollout (optional)").fill("2026-10-01")
    page.get_by_role("button", name="Preview").click()
    summary = page.locator("#comparison-summary")
    expect(summary).to_contain_text("makes the whole 1.14× faster")
    expect(page.locator("#comparison-stages")).to_contain_text(
        "Deploy, waiting time: too few items to compare (n = 6 before, 4 after"
    )
    fits(page)
    no_serious_axe_violations(page)

    page.get_by_role("button", name="Make the new version").click()
    expect(page.get_by_role("heading", name="Measured from delivery data")).to_be_visible()
    expect(page.locator("#overall-speedup")).to_have_text("1.14×")
    new = BottleneckMap.objects.get(name="Feature delivery (measured)")
    review = new.stages.get(name="Code review")
    expect(page.locator(f"#out-w{review.pk}")).to_have_text("3.5×")
    fits(page)
    assert list(bmap.stages.values_list("waiting_hours", flat=True)) == [2, 5, 30]
    context.close()
