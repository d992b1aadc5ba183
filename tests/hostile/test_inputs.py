"""The shared refusals: planning.inputs (pure) and the request guard (middleware)."""

from __future__ import annotations

import pytest

from planning.inputs import (
    InputError,
    check_text,
    csv_cell,
    parse_json,
    shorten,
    strip_unstorable,
)


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\ud800", "x\udfff"])
def test_unstorable_text_is_refused_with_a_reason(text):
    with pytest.raises(InputError, match="NUL|surrogate"):
        check_text(text, label="The note")


def test_long_text_is_refused_not_truncated():
    with pytest.raises(InputError, match="100,000 characters long; the limit is 20,000"):
        check_text("x" * 100_000)
    assert check_text("é" * 20_000) == "é" * 20_000


def test_a_composed_title_is_shortened_visibly():
    assert shorten("Build " + "x" * 300, 200) == "Build " + "x" * 193 + "…"
    assert len(shorten("Build " + "x" * 300, 200)) == 200
    assert shorten("short", 200) == "short"


def test_model_output_is_made_storable():
    assert strip_unstorable("a\x00b\ud800") == "a\ufffdb\ufffd"
    assert strip_unstorable("plain") == "plain"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 50_000 + "]" * 50_000, "nested more than 32"),
        ('{"a": ' + "9" * 5_000 + "}", "5,000 digits"),
        ('{"a": NaN}', "NaN is not a number"),
        ('{"a": -Infinity}', "-Infinity"),
        ("[1e999]", "too large"),
        ('{"a": "\\u0000"}', "NUL"),
        ('{"\\ud800": 1}', "surrogate"),
        ("{", "not valid JSON"),
        ("x" * 200_000, "limit is 100,000"),
    ],
)
def test_parse_json_refuses_what_would_break_the_parser_or_jsonb(text, message):
    with pytest.raises(InputError, match=message):
        parse_json(text)


def test_parse_json_keeps_ordinary_json():
    assert parse_json('{"a": [1, 2.5, "[x]", {"b": null}], "c": "\\"{"}') == {
        "a": [1, 2.5, "[x]", {"b": None}],
        "c": '"{',
    }


@pytest.mark.parametrize("cell", ["=1+1", "+cmd", "-2+3", "@SUM(1)", "\tx", "\rx"])
def test_csv_cells_that_start_a_formula_are_neutralised(cell):
    assert csv_cell(cell) == "'" + cell


def test_csv_numbers_and_plain_text_pass():
    assert csv_cell(-2.5) == -2.5
    assert csv_cell("plain = text") == "plain = text"


# --------------------------------------------------------------------------- the guard
def test_nul_in_a_query_string_is_a_400_page(editor_client, team):
    response = editor_client.get(f"/t/{team.slug}/ideas/?q=%00")
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert "<html" in response.content.decode()


def test_nul_in_a_path_is_a_400(editor_client, team):
    assert editor_client.get(f"/t/{team.slug}/predictions/quarter/2026%00-Q1/").status_code == 400


def test_nul_in_a_form_field_names_the_field_and_saves_nothing(editor_client, team):
    from audits.models import Idea

    response = editor_client.post(f"/t/{team.slug}/ideas/new/", {"title": "a\x00b"})
    assert response.status_code == 400
    assert "“title”" in response.content.decode()
    assert not Idea.objects.exists()


def test_htmx_refusal_is_a_fragment_shown_before_the_form(editor_client, team):
    response = editor_client.post(
        f"/t/{team.slug}/ideas/new/", {"title": "a\x00b"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert response["HX-Reswap"] == "beforebegin"
    assert "<html" not in response.content.decode()


def test_nul_under_the_api_is_json(client):
    response = client.get("/api/v1/t/x/metrics/?q=%00")
    assert response.status_code == 400
    assert response.json()["error"]


def test_a_body_over_the_limit_is_a_413(editor_client, team, settings):
    settings.MAX_REQUEST_BYTES = 1024
    response = editor_client.post(
        f"/t/{team.slug}/ideas/new/", {"title": "x" * 2000}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 413
    assert "larger than" in response.content.decode()
