"""Every page of the demo team, as a phone (390×844) and a desktop (1440×900) show it.

- No sideways scroll of the page: `document.documentElement.scrollWidth <= innerWidth` (a wide
  table scrolls inside its own container instead).
- No serious or critical accessibility violation found by axe-core (vendored from the npm
  registry under tests/browser/vendor, injected into each page).
- A screenshot of each page at each width under test-results/layout/ (not in git) for a
  person to look at.

The pages are found by crawling the demo team with Django's test client, one URL per URL
pattern (and one with a query string), so a new page is covered without touching this file.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import Resolver404, resolve

from planning.accounts.models import User

from .helpers import logged_in_context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

START = "/t/demo/"
PHONE = (390, 844)
DESKTOP = (1440, 900)
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SHOTS = Path(settings.BASE_DIR) / "test-results" / "layout"
SKIP = re.compile(r"(/export|\.csv|\.ics|\.md$|/stream|/events|/logout|/delete)")
HREF = re.compile(r'href="([^"#]+)"')
GUEST_PAGES = ["/", "/accounts/login/", "/accounts/signup/"]


@pytest.fixture
def fake_models(settings, fake_api):
    settings.ANTHROPIC_BASE_URL = fake_api
    settings.ANTHROPIC_API_KEY = "test-key"


def _slot(url: str) -> tuple[str, bool]:
    parts = urlsplit(url)
    try:
        name = resolve(parts.path).view_name
    except Resolver404:
        name = parts.path
    return name, bool(parts.query)


def demo_pages(client: Client) -> list[str]:
    """Breadth-first over the demo team's links: one URL per URL pattern (and query or not)."""
    seen: set[tuple[str, bool]] = set()
    pages, queue = [], [START]
    while queue:
        url = queue.pop(0).replace("&amp;", "&")
        slot = _slot(url)
        if slot in seen or not url.startswith(START) or SKIP.search(url):
            continue
        seen.add(slot)
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        pages.append(url)
        queue.extend(HREF.findall(response.content.decode()))
    return pages


def _check(page, url: str, width: int, axe: bool) -> list[str]:
    problems = []
    page.goto(url)
    if page.locator(".plotly-chart").count():
        page.wait_for_selector(".plotly-chart[data-drawn]", state="attached")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{url} at {width} px: the page is {scroll} px wide")
    name = re.sub(r"[^a-z0-9]+", "_", urlsplit(url).path + "_" + urlsplit(url).query).strip("_")
    page.screenshot(path=SHOTS / f"{name or 'home'}-{width}.png", full_page=True)
    if axe:
        page.add_script_tag(content=AXE)
        found = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3)
                    .map(n => n.target.join(' ')).join(', ')}`)"""
        )
        problems += [f"{url} at {width} px: {v}" for v in found]
    return problems


@pytest.mark.timeout(900)  # ~50 pages x 2 widths with axe-core and full-page screenshots
def test_every_demo_page_fits_phone_and_desktop_and_passes_axe(live_server, browser, fake_models):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    demo = User.objects.get(email="demo@example.com")
    client = Client()
    client.force_login(demo)
    pages = demo_pages(client)
    assert len(pages) >= 30, pages  # the crawl really reached the team's pages
    SHOTS.mkdir(parents=True, exist_ok=True)

    problems: list[str] = []
    for width, height in (PHONE, DESKTOP):
        # bypass_csp lets the test inject axe-core; the pages' own scripts run as usual.
        context = logged_in_context(browser, live_server.url, demo, width, height, bypass_csp=True)
        guest = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        page, guest_page = context.new_page(), guest.new_page()
        for url in pages:
            problems += _check(page, live_server.url + url, width, axe=width == PHONE[0])
        for url in GUEST_PAGES:
            problems += _check(guest_page, live_server.url + url, width, axe=True)
        context.close()
        guest.close()
    assert not problems, "\n".join(problems)


def test_phone_menu_opens_and_reaches_every_section_and_log_out(live_server, browser):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    demo = User.objects.get(email="demo@example.com")
    context = logged_in_context(browser, live_server.url, demo, *PHONE)
    page = context.new_page()
    page.goto(live_server.url + START)
    menu = page.locator("#site-menu")
    assert not menu.is_visible()
    toggle = page.get_by_role("button", name="Menu")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    for name in ("Lines on Graphs", "Lighting-Up", "Bottlenecks", "Saturation", "Cadences",
                 "Quarterly review", "Members", "Log out"):  # fmt: skip
        target = menu.get_by_role("link", name=name).or_(menu.get_by_role("button", name=name))
        assert target.first.is_visible(), name
        box = target.first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0], name
    page.keyboard.press("Escape")
    assert not menu.is_visible()
    # The team switcher stays in the top bar.
    page.locator(".team-switcher summary").click()
    assert page.get_by_role("link", name="+ New team").is_visible()
    context.close()


def test_printed_plan_hides_the_simulated_models_banner_and_navigation(
    live_server, browser, settings
):
    settings.SIMULATED_MODELS = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    demo = User.objects.get(email="demo@example.com")
    context = logged_in_context(browser, live_server.url, demo, *DESKTOP)
    page = context.new_page()
    page.goto(live_server.url + START + "reviews/")
    page.locator("a[href$='/plan/']").first.click()
    banner = page.locator(".simulated-banner")
    assert banner.is_visible()
    page.emulate_media(media="print")
    assert not banner.is_visible()
    assert not page.locator(".site-header").is_visible()
    assert page.locator(".plan-doc").is_visible()
    context.close()
