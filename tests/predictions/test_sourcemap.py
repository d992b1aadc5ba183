"""predictions/sourcemap.py: selectors, filters and payload parsing (pure, no database)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from planning import csvimport
from predictions.sourcemap import (
    Mapping,
    MappingError,
    compile_mapping,
    parse,
    parse_filter,
    parse_selector,
    read_date,
    select,
)

TODAY = date(2026, 12, 2)


def _parse(raw, **mapping):
    kwargs = {"format": "csv", "date": "date", "value": "value", **mapping}
    return parse(raw, compile_mapping(Mapping(**kwargs)), today=TODAY)


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("a", ("a",)),
        ("$.data.results", ("data", "results")),
        ("results[*]", ("results", None)),
        ("$[0].v", (0, "v")),
        ('scores["SWE-bench verified"]', ("scores", "SWE-bench verified")),
        ("rows[-1]", ("rows", -1)),
        ("*.x", (None, "x")),
        ("$", ()),
    ],
)
def test_selectors_read(text, steps):
    assert parse_selector(text) == steps


@pytest.mark.parametrize(
    "text", ["a..b", "a[", "a[b]", "a]", "__import__('os')", "a b", "a" * 201, "x\x00"]
)
def test_bad_selectors_say_why(text):
    with pytest.raises(MappingError):
        parse_selector(text)


def test_wildcards_are_refused_for_a_single_field():
    with pytest.raises(MappingError, match="wildcard"):
        parse_selector("a[*]", wildcards=False)


def test_select_fans_out_and_misses_quietly():
    doc = {"a": [{"v": 1}, {"v": 2}, {"w": 3}], "b": "text"}
    assert select(doc, parse_selector("a[*].v")) == [1, 2]
    assert select(doc, parse_selector("a[5].v")) == []
    assert select(doc, parse_selector("b.c")) == []
    assert select(doc, parse_selector("a[-1].w")) == [3]


def test_filters_parse_and_refuse():
    (cond,) = parse_filter('model == "best"')
    assert cond.literal == "best" and cond.op == "=="
    assert len(parse_filter("split == 'v' and score >= 0.5 AND ok == true")) == 3
    for bad in [
        "model = best",
        'model == "best" or x == 1',
        "score > 'x'",
        "== 3",
        'a == "x" and',
        " and ".join(["a == 1"] * 6),
        "a == 1e999",
    ]:
        with pytest.raises(MappingError):
            parse_filter(bad)


def test_compile_reports_every_bad_field():
    with pytest.raises(MappingError) as info:
        compile_mapping(
            Mapping(format="json", date="a..", value="", rows="[", filter="x ~ 1", factor=0)
        )
    assert set(info.value.args[1]) == {"date", "value", "rows", "filter", "factor"}
    with pytest.raises(MappingError) as info:
        compile_mapping(Mapping(format="csv", date="d", value="v", rows="x"))
    assert "rows" in info.value.args[1]


def test_csv_with_a_filter_and_a_factor():
    raw = (
        "Date,Model,Score\n"
        "2026-01-01,best,0.5\n"
        "2026-01-01,other,0.1\n"
        "2026-02-01,best,0.625\n"
        "2026-03-01,best,oops\n"
    )
    parsed = _parse(raw, date="date", value="score", filter='model == "best"', factor=100)
    assert parsed.rows == [(date(2026, 1, 1), 50.0), (date(2026, 2, 1), 62.5)]
    assert [str(p) for p in parsed.problems] == ["Line 5: “oops” is not a number."]


def test_csv_header_problems_are_whole_file_problems():
    parsed = _parse("when,value\n2026-01-01,3\n")
    assert parsed.fatal and "Missing column: date" in parsed.problems[0].message
    parsed = _parse(b"\xff\xfe")
    assert parsed.fatal and "UTF-8" in parsed.problems[0].message


def test_csv_row_errors_name_the_line():
    raw = "date,value\n2026-01-01,1\n2027-01-01,2\n2026-01-01,3\nnot a date,4\n1800-01-01,5\n"
    parsed = _parse(raw)
    assert parsed.rows == [(date(2026, 1, 1), 1.0)]
    assert [p.where for p in parsed.problems] == ["line 3", "line 4", "line 5", "line 6"]
    assert "future" in parsed.problems[0].message
    assert "already appears at line 2" in parsed.problems[1].message


def test_log_scale_refuses_values_not_above_zero():
    mapping = compile_mapping(Mapping(format="csv", date="date", value="value"))
    parsed = parse("date,value\n2026-01-01,0\n", mapping, today=TODAY, positive_only=True)
    assert not parsed.rows and "log scale" in parsed.problems[0].message


def test_json_records_under_a_selector():
    doc = {
        "data": {
            "results": [
                {"day": "2026-01-05T10:00:00Z", "scores": {"v": 0.42}, "model": "best"},
                {"day": "2026-01-05", "scores": {"v": 0.1}, "model": "old"},
                {"day": "2026-02-05", "scores": {"v": "0.5"}, "model": "best"},
                {"day": 20260305, "scores": {"v": 1}, "model": "best"},
                {"day": "2026-04-05", "scores": {}, "model": "best"},
                "not a record",
            ]
        }
    }
    parsed = parse(
        json.dumps(doc),
        compile_mapping(
            Mapping(
                format="json",
                rows="data.results",
                date="day",
                value="scores.v",
                filter='model == "best"',
            )
        ),
        today=TODAY,
    )
    assert parsed.rows == [(date(2026, 1, 5), 0.42), (date(2026, 2, 5), 0.5)]
    assert [str(p) for p in parsed.problems] == [
        "Record 4: “20260305” is not a date like 2026-03-31.",
        "Record 5: no value field here.",
    ]


def test_json_whole_document_problems():
    mapping = compile_mapping(Mapping(format="json", rows="items", date="d", value="v"))
    for raw, expected in [
        ("{", "not valid JSON"),
        ("[" * 100 + "]" * 100, "nested"),
        ('{"items": 3}', "not a list of records"),
        ('{"other": []}', "reaches nothing"),
        ('{"items": [{"d": "2026-01-01", "v": NaN}]}', "NaN"),
    ]:
        parsed = parse(raw, mapping, today=TODAY)
        assert parsed.fatal, raw
        assert expected in parsed.problems[0].message, (raw, parsed.problems)


def test_a_filter_that_matches_nothing_says_so():
    parsed = _parse("date,value,m\n2026-01-01,1,a\n", filter='m == "b"')
    assert not parsed.rows and "No rows matched" in parsed.problems[0].message


def test_numbers_compare_as_numbers_in_csv():
    parsed = _parse("date,value,n\n2026-01-01,1,10\n2026-01-02,2,9\n", filter="n >= 10")
    assert parsed.rows == [(date(2026, 1, 1), 1.0)]


def test_problems_are_capped_but_counted():
    raw = "date,value\n" + "".join(f"x{i},1\n" for i in range(300))
    parsed = _parse(raw)
    assert len(parsed.problems) == 100 and parsed.n_problems == 300


def test_the_shared_size_limit_applies():
    raw = "date,value\n" + "2026-01-01,1\n" * (csvimport.MAX_BYTES // 13 + 10)
    parsed = _parse(raw)
    assert parsed.fatal and "larger than" in parsed.problems[0].message


def test_read_date():
    assert read_date("2026-03-31") == date(2026, 3, 31)
    assert read_date("2026-03-31T23:00:00+00:00") == date(2026, 3, 31)
    assert read_date("31/03/2026") is None
    assert read_date(3) is None


def test_the_shared_row_limit_counts_lines_before_the_filter():
    raw = "date,value\n" + "".join(f"2026-01-01,{i}\n" for i in range(csvimport.MAX_ROWS + 1))
    parsed = _parse(raw)
    assert parsed.fatal and parsed.problems[0].message == (
        f"More than {csvimport.MAX_ROWS:,} lines: the limit for a source."
    )
