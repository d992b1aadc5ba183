"""Django's {# … #} comments are single-line: a multi-line one is printed to the page. No
template may hold one. (That no team page of the demo shows "{#" to a user is checked on the
pages the hostile-values crawl visits: test_hostile_values.py.)"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings

MULTILINE_COMMENT = re.compile(r"\{#(?:(?!#\}).)*\n", re.S)


SKIP_DIRS = {".venv", "var", "node_modules", "static", ".git", "test-results", "__pycache__"}


def _templates() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(settings.BASE_DIR):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        found += [Path(folder, f) for f in files if f.endswith(".html")]
    return found


def test_no_template_holds_a_multi_line_comment():
    found = [str(p) for p in _templates() if MULTILINE_COMMENT.search(p.read_text())]
    assert _templates() and not found, f"use {{% comment %}} in: {found}"
