"""Every form of the app derives from planning.forms.Form/ModelForm, whose fields refuse NUL
and lone surrogates, over-long text, huge whole numbers, NaN/±Infinity and dates outside
1900-2200 with field errors."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django import forms

import audits
import planning
import predictions
from planning.forms import Form, Hardened
from planning.inputs import TEXT_MAX_CHARS

APPS = (planning, predictions, audits)


def _all_form_classes() -> list[type]:
    for package in APPS:
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name.rsplit(".", 1)[-1] in ("forms", "csvimport"):
                importlib.import_module(info.name)
    found, stack = [], [forms.BaseForm]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in {p.__name__ for p in APPS}:
            found.append(cls)
    return found


def test_every_form_of_the_app_is_hardened():
    classes = _all_form_classes()
    assert len(classes) > 20
    loose = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, Hardened)]
    assert not loose, f"forms not derived from planning.forms.Form/ModelForm: {loose}"


class Sample(Form):
    text = forms.CharField(required=False)
    title = forms.CharField(required=False, max_length=20)
    count = forms.IntegerField(required=False)
    share = forms.FloatField(required=False)
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    at = forms.DateTimeField(required=False)
    settings = forms.JSONField(required=False)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("text", "a\x00b", "NUL"),
        ("text", "\ud800", "surrogate"),
        ("text", "x" * 100_000, "100,000 characters long; the limit is 20,000"),
        ("title", "\udfff", "surrogate"),
        ("title", "x" * 21, "at most 20 characters"),
        ("count", "1" * 400, "Enter a whole number between"),
        ("count", "-" + "9" * 400, "Enter a whole number between"),
        ("count", "9" * 5_000, "Enter a whole number"),
        ("count", "2147483648", "2,147,483,647"),
        ("share", "NaN", "Enter a number"),
        ("share", "Infinity", "Enter a number"),
        ("share", "-inf", "Enter a number"),
        ("share", "1e309", "Enter a number"),
        ("day", "0001-01-01", "between the years 1900 and 2200"),
        ("day", "9999-12-31", "between the years 1900 and 2200"),
        ("day", "2026-02-30", "Enter a valid date"),
        ("at", "1899-12-31 23:00", "between the years 1900 and 2200"),
        ("settings", "[" * 50_000 + "]" * 50_000, "nested more than 32"),
        ("settings", '{"a": NaN}', "NaN is not a number"),
        ("settings", '{"a": ' + "9" * 5_000 + "}", "5,000 digits"),
    ],
)
def test_hostile_values_are_field_errors(field, value, message):
    form = Sample({field: value})
    assert not form.is_valid()
    assert message in " ".join(form.errors[field]), form.errors


def test_ordinary_values_pass_and_dates_offer_the_range():
    form = Sample(
        {"text": "é" * TEXT_MAX_CHARS, "count": "-2147483648", "share": "1e308",
         "day": "2200-12-31", "at": "1900-01-01 00:00"}
    )  # fmt: skip
    assert form.is_valid(), form.errors
    html = str(form["day"])
    assert 'min="1900-01-01"' in html and 'max="2200-12-31"' in html


def test_fields_added_after_init_are_hardened_before_validation():
    form = Sample({"late": "a\ud800"})
    form.fields["late"] = forms.CharField()
    assert not form.is_valid()
    assert "surrogate" in form.errors["late"][0]


def test_text_fields_carry_no_maxlength_so_a_long_paste_is_refused_not_cut():
    """A browser cuts a paste to `maxlength` silently; the server's refusal says so instead,
    and the bound form shows the text as typed."""

    class Titled(Form):
        title = forms.CharField(max_length=20)
        notes = forms.CharField(widget=forms.Textarea)

    form = Titled({"title": "x" * 25, "notes": "fine"})
    assert "maxlength" not in str(form["title"]) and "maxlength" not in str(form["notes"])
    assert not form.is_valid()
    assert "at most 20 characters (it has 25)" in form.errors["title"][0]
    assert 'value="' + "x" * 25 + '"' in str(form["title"])
