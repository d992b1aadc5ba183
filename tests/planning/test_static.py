"""Static files as `make run` and production serve them: hashed, compressed, cached for good.

The suite itself serves static files from the finders; these tests collect into a temporary
folder with the manifest storage and ask WhiteNoise for the chart library the way a browser
does.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

PLOTLY_BUDGET_BYTES = 1_200_000  # issue 16: at most 1.2 MB transferred for plotly.js

MANIFEST = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "planning.storage.HashedStaticFilesStorage"},
}


@pytest.fixture
def collected(tmp_path, settings):
    with override_settings(
        STATIC_ROOT=tmp_path,
        STORAGES=MANIFEST,
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
    ):
        call_command("collectstatic", "--noinput", verbosity=0)
        yield tmp_path


def test_plotly_is_the_partial_bundle_compressed_and_cached_for_good(collected, db):
    from django.templatetags.static import static

    url = static("vendor/plotly/plotly-basic.min.js")
    assert re.search(r"plotly-basic\.min\.[0-9a-f]{12}\.js$", url), url

    response = Client().get(url, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert int(response["Content-Length"]) <= PLOTLY_BUDGET_BYTES
    assert "immutable" in response["Cache-Control"]
    max_age = int(re.search(r"max-age=(\d+)", response["Cache-Control"]).group(1))
    assert max_age >= 365 * 24 * 3600


def test_pages_point_at_the_hashed_bundle(collected, client, owner, team):
    client.force_login(owner)
    html = client.get(f"/t/{team.slug}/").content.decode()
    src = re.search(r'data-plotly-src="([^"]+)"', html).group(1)
    assert re.search(r"plotly-basic\.min\.[0-9a-f]{12}\.js$", src), src


def test_hashed_names_also_under_debug(collected, db):
    """`make run` runs with DEBUG on; its assets must still be hashed and cached for good."""
    from django.templatetags.static import static

    with override_settings(DEBUG=True):
        url = static("css/app.css")
    assert re.search(r"app\.[0-9a-f]{12}\.css$", url), url
