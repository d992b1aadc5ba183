"""Django's {# … #} comments are single-line: a multi-line one is printed to the page. No
template may hold one, and no team page of the demo (found by crawling it as its owner, so a
new page is covered without touching this file) may show "{#" to a user."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from planning.accounts.models import User

from . import harness

START = "/t/demo/"
MULTILINE_COMMENT = re.compile(r"\{#(?:(?!#\}).)*\n", re.S)


def _templates() -> list[Path]:
    roots = [Path(settings.BASE_DIR)]
    return [
        p
        for root in roots
        for p in root.rglob("*.html")
        if not {".venv", "var", "node_modules", "static"} & set(p.relative_to(root).parts)
    ]


def test_no_template_holds_a_multi_line_comment():
    found = [str(p) for p in _templates() if MULTILINE_COMMENT.search(p.read_text())]
    assert _templates() and not found, f"use {{% comment %}} in: {found}"


@pytest.mark.django_db
def test_no_team_page_of_the_demo_prints_a_template_comment(fake_models):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    client = Client()
    client.force_login(User.objects.get(email="demo@example.com"))
    client.post(f"{START}reviews/start/")  # a review in progress: its steps are pages too
    crawl = harness.crawl(client, harness.Database(), START, per_route=1)
    assert not [u for u, status in crawl.pages.items() if status >= 500]
    pages = [url for url, status in crawl.pages.items() if status == 200]
    assert len(pages) > 20 and any("/audits/" in u for u in pages)
    printed = [u for u in pages if "{#" in client.get(u).content.decode()]
    assert not printed, f"template comments shown on: {printed}"
