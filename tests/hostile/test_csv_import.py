"""One CSV importer (planning.csvimport) behind both upload pages: observations of a metric and
readings of a form factor refuse the same hostile files with the same per-line report, and
save nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from planning import csvimport
from planning.saturation.models import SaturationReading
from predictions.models import Metric, Observation
from tests.factories import FormFactorFactory

pytestmark = pytest.mark.django_db

OBS_HEADER = "date,value,source"
OBS_ROW = "2025-01-{day:02d},{day},METR"
READING_HEADER = (
    "model_name,release_date,capability,capability_source,product_value,product_metric,"
    "product_scale,cost_per_task"
)
READING_ROW = "M{day},2024-01-{day:02d},{day},Bench,{day},Task success (%),linear,"


class Importer:
    def __init__(self, kind, team, client):
        self.kind, self.client = kind, client
        if kind == "observations":
            self.target = Metric.objects.create(team=team, name="ARR", scale="linear")
            self.url = reverse(
                "predictions:observations_upload", kwargs={"team": team.slug, "pk": self.target.pk}
            )
            self.header, self.row, self.table = OBS_HEADER, OBS_ROW, Observation
            self.text = "METR"
        else:
            self.target = FormFactorFactory(team=team, name="Chat")
            self.url = reverse(
                "saturation:reading_import", kwargs={"team": team.slug, "pk": self.target.pk}
            )
            self.header, self.row, self.table = READING_HEADER, READING_ROW, SaturationReading
            self.text = "Bench"

    def with_text(self, text: str) -> str:
        """Two good rows, then one whose text cell is `text`."""
        return self.rows([1]) + self.row.format(day=2).replace(self.text, text) + "\n"

    def rows(self, days) -> str:
        return "\n".join([self.header, *(self.row.format(day=d) for d in days)]) + "\n"

    def post(self, content: bytes | str):
        raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        upload = SimpleUploadedFile("data.csv", raw, content_type="text/csv")
        return self.client.post(self.url, {"file": upload})


@pytest.fixture(params=["observations", "readings"])
def importer(request, team, editor_client):
    return Importer(request.param, team, editor_client)


def refused(importer, content, *messages):
    response = importer.post(content)
    body = response.content.decode()
    assert response.status_code == 400, body[:500]
    assert "Nothing was imported." in body
    for message in messages:
        assert message in body, f"{message!r} not in the report"
    assert not importer.table.objects.exists()
    return body


def test_good_rows_are_imported_with_or_without_a_byte_order_mark(importer):
    response = importer.post("\ufeff" + importer.rows([1, 2, 3]))
    assert response.status_code == 302
    assert importer.table.objects.count() == 3


def test_one_bad_row_saves_nothing_and_is_reported_by_line(importer):
    text = importer.rows([1, 2]) + importer.row.format(day=3).replace("2024-01-03", "x").replace(
        "2025-01-03", "x"
    )
    refused(importer, text, "Line 4: ")


def test_a_nul_cell_is_refused_with_its_line_and_column(importer):
    refused(importer, importer.with_text("a\x00b"), "Line 3: ", "the cell contains a NUL")


def test_a_lone_surrogate_is_refused(importer):
    # Its bytes are not UTF-8; given as text (as a test or a script might), it is named.
    refused(importer, importer.with_text("\ud800"), "not UTF-8")
    sheet = csvimport.read("a\n\ud800\n", columns=["a"], required=["a"])
    assert "surrogate" in sheet.problems[0].message


def test_a_200000_character_cell_is_refused_not_a_server_error(importer):
    refused(importer, importer.with_text("x" * 200_000), "Line 3: ", "the limit is 1,000")


def test_a_cell_over_the_limit_says_how_long_it_is(importer):
    refused(
        importer,
        importer.with_text("é" * 5_000),
        "Line 3: ",
        "5,000 characters long; the limit is 1,000",
    )


def test_too_many_rows_too_many_bytes_and_not_utf8_are_refused_the_same_way(importer):
    header = importer.header + "\n"
    refused(importer, header + "1,2\n" * (csvimport.MAX_ROWS + 1), "More than 10,000 rows")
    refused(importer, header + "x" * (csvimport.MAX_BYTES + 1), "larger than 2 MB")
    refused(importer, header.encode() + b"\xff\xfe\n", "not UTF-8")
    refused(importer, "", "The file is empty")
    refused(importer, header, "No rows found under the header")
    refused(importer, "colour," + header, "Unknown column: colour")


def test_the_report_lists_at_most_a_hundred_problems(importer):
    text = importer.header + "\n" + "x,\x00\n" * 150
    body = refused(importer, text)
    assert "Fix these 150 problems" in body
    assert "… and 50 more." in body
