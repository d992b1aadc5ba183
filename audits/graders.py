"""Grading, as plain functions: one model answer -> a Verdict; samples -> a probe verdict
(k of n); probes -> an idea verdict (all, or a threshold).

The LLM judge needs a model call; it receives it as a function (`ask`), so this module stays
free of I/O and the judge is tested with the same code the runs use.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from planning.inputs import parse_json

PASS, FAIL, PENDING, ERROR = "pass", "fail", "pending", "error"

JUDGE_SYSTEM = (
    "You are a strict grader. Judge the response against the rubric only. Answer with JSON "
    'and nothing else: {"verdict": "pass" or "fail", "reasoning": "one or two sentences"}.'
)


@dataclass(frozen=True)
class Verdict:
    grade: str  # pass | fail | pending | error
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.grade == PASS


def _verdict(ok: bool, **detail: Any) -> Verdict:
    return Verdict(PASS if ok else FAIL, detail)


def _norm(text: str, config: dict[str, Any]) -> str:
    text = text.strip()
    return text if config.get("case_sensitive") else text.casefold()


def grade_contains(response: str, config: dict[str, Any]) -> Verdict:
    expected = _norm(config["expected"], config)
    return _verdict(expected in _norm(response, config), expected=config["expected"])


def grade_not_contains(response: str, config: dict[str, Any]) -> Verdict:
    expected = _norm(config["expected"], config)
    return _verdict(expected not in _norm(response, config), forbidden=config["expected"])


def grade_equals(response: str, config: dict[str, Any]) -> Verdict:
    return _verdict(_norm(response, config) == _norm(config["expected"], config))


def grade_regex(response: str, config: dict[str, Any]) -> Verdict:
    try:
        pattern = re.compile(config["pattern"], 0 if config.get("case_sensitive") else re.I)
    except re.error as exc:
        return Verdict(ERROR, {"error": f"Bad pattern: {exc}"})
    match = pattern.search(response)
    return _verdict(bool(match), match=match.group(0) if match else None)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(response: str) -> Any:
    """The JSON in a response: the whole text, or the first fenced block. Raises ValueError."""
    text = response.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    # Model output: bounded like any JSON from outside (no RecursionError, no 5,000-digit int).
    return parse_json(text, max_depth=200, max_chars=1_000_000)


def grade_json_schema(response: str, config: dict[str, Any]) -> Verdict:
    try:
        data = extract_json(response)
    except ValueError as exc:
        return Verdict(FAIL, {"error": f"Not valid JSON: {exc}"})
    schema = config.get("schema") or {}
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    if errors:
        return Verdict(
            FAIL,
            {"errors": [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors]},
        )
    return Verdict(PASS, {})


_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def extract_number(response: str) -> float | None:
    """The last number in the text (commas as thousands separators allowed)."""
    found = _NUMBER.findall(response)
    return float(found[-1].replace(",", "")) if found else None


def grade_number(response: str, config: dict[str, Any]) -> Verdict:
    value = extract_number(response)
    expected = float(config["expected"])
    tolerance = float(config.get("tolerance", 0))
    if value is None:
        return Verdict(FAIL, {"error": "No number in the response", "expected": expected})
    if config.get("relative"):
        ok = abs(value - expected) <= tolerance * abs(expected)
    else:
        ok = abs(value - expected) <= tolerance
    return _verdict(ok, value=value, expected=expected, tolerance=tolerance)


def grade_human(response: str, config: dict[str, Any]) -> Verdict:
    return Verdict(PENDING, {"note": "Waiting for a person to review this answer."})


# ----------------------------------------------------------------------------- LLM judge
Ask = Callable[[str, str, str], tuple[str, str]]
"""ask(model, system, user) -> (text, resolved model id)."""


def rubric_fingerprint(rubric: str) -> str:
    return hashlib.sha256(rubric.strip().encode()).hexdigest()[:12]


def judge_prompt(rubric: str, task: str, response: str) -> str:
    return (
        f"<rubric>\n{rubric.strip()}\n</rubric>\n<task>\n{task.strip()}\n</task>\n"
        f"<response>\n{response.strip()}\n</response>"
    )


def parse_judgement(text: str) -> tuple[str, str]:
    """(verdict, reasoning) from the judge's answer; ValueError when it is not usable."""
    data = extract_json(text)
    verdict = str(data.get("verdict", "")).lower() if isinstance(data, dict) else ""
    if verdict not in (PASS, FAIL):
        raise ValueError(f"verdict must be pass or fail, got {verdict!r}")
    return verdict, str(data.get("reasoning", ""))


def grade_llm_judge(response: str, config: dict[str, Any], *, ask: Ask, task: str = "") -> Verdict:
    """Ask the pinned judge model; the judge, rubric version and reasoning go in the detail."""
    rubric = config["rubric"]
    pinned = {
        "judge_model": config["judge_model"],
        "rubric_version": str(config.get("rubric_version", "1")),
        "rubric_sha": rubric_fingerprint(rubric),
    }
    try:
        prompt = judge_prompt(rubric, task, response)
        text, resolved = ask(config["judge_model"], JUDGE_SYSTEM, prompt)
    except Exception as exc:  # noqa: BLE001 - any failure of the judge is an error verdict
        return Verdict(ERROR, {**pinned, "error": f"Judge call failed: {exc}"})
    try:
        verdict, reasoning = parse_judgement(text)
    except (ValueError, AttributeError) as exc:
        return Verdict(
            ERROR,
            {
                **pinned,
                "judge_resolved_model": resolved,
                "raw": text,
                "error": f"Unreadable judgement: {exc}",
            },
        )
    return Verdict(verdict, {**pinned, "judge_resolved_model": resolved, "reasoning": reasoning})


SIMPLE_GRADERS: dict[str, Callable[[str, dict[str, Any]], Verdict]] = {
    "contains": grade_contains,
    "not_contains": grade_not_contains,
    "equals": grade_equals,
    "regex": grade_regex,
    "json_schema": grade_json_schema,
    "number": grade_number,
    "human": grade_human,
}


def grade(
    kind: str, response: str, config: dict[str, Any], *, ask: Ask | None = None, task: str = ""
) -> Verdict:
    if kind == "llm_judge":
        if ask is None:
            raise ValueError("The LLM judge needs an `ask` function")
        return grade_llm_judge(response, config, ask=ask, task=task)
    try:
        grader = SIMPLE_GRADERS[kind]
    except KeyError:
        raise ValueError(f"Unknown grader {kind!r}") from None
    try:
        return grader(response, config)
    except (KeyError, TypeError, ValueError, jsonschema.SchemaError) as exc:
        return Verdict(ERROR, {"error": f"Grader misconfigured: {exc}"})


def validate_config(kind: str, config: dict[str, Any]) -> list[str]:
    """Problems with a grader's configuration, for forms (empty when fine)."""
    problems: list[str] = []
    need = {
        "contains": ["expected"],
        "not_contains": ["expected"],
        "equals": ["expected"],
        "regex": ["pattern"],
        "json_schema": ["schema"],
        "number": ["expected"],
        "llm_judge": ["rubric", "judge_model"],
        "human": [],
    }.get(kind)
    if need is None:
        return [f"Unknown grader {kind!r}."]
    problems += [
        f"“{key}” is required for this grader." for key in need if config.get(key) in (None, "")
    ]
    if kind == "regex" and config.get("pattern"):
        try:
            re.compile(config["pattern"])
        except re.error as exc:
            problems.append(f"The pattern is not a valid regular expression: {exc}.")
    if kind == "json_schema" and config.get("schema") not in (None, ""):
        try:
            jsonschema.Draft202012Validator.check_schema(config["schema"])
        except jsonschema.SchemaError as exc:
            problems.append(f"The schema is not a valid JSON Schema: {exc.message}.")
    if kind == "number":
        for key in ("expected", "tolerance"):
            if config.get(key) not in (None, ""):
                try:
                    float(config[key])
                except (TypeError, ValueError):
                    problems.append(f"“{key}” must be a number.")
    return problems


# ----------------------------------------------------------------------------- roll-ups
def probe_verdict(grades: Iterable[str], k: int, n: int) -> str:
    """k of n samples must pass. Missing samples count as not yet known (pending)."""
    grades = list(grades)
    passes = grades.count(PASS)
    pending = grades.count(PENDING) + max(0, n - len(grades))
    errors = grades.count(ERROR)
    if passes >= k:
        return PASS
    if passes + pending >= k:
        return PENDING
    if passes + pending + errors >= k:
        return ERROR
    return FAIL


def idea_verdict(probe_verdicts: Iterable[str], threshold: float | None = None) -> str:
    """All probes must pass, or at least `threshold` (a share) of them."""
    verdicts = list(probe_verdicts)
    if not verdicts:
        return PENDING
    needed = len(verdicts) if threshold is None else max(1, -(-len(verdicts) * threshold // 1))
    needed = int(needed)
    passes = verdicts.count(PASS)
    undecided = verdicts.count(PENDING) + verdicts.count(ERROR)
    if passes >= needed:
        return PASS
    if passes + undecided >= needed:
        return PENDING if verdicts.count(PENDING) else ERROR
    return FAIL


# ----------------------------------------------------------------------------- in words
def _q(value: Any, limit: int = 80) -> str:
    text = str(value)
    return f"“{text[:limit]}…”" if len(text) > limit else f"“{text}”"


def _num(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def explain(kind: str, grade: str, detail: dict[str, Any] | None, error: str = "") -> str:
    """Why a sample got its grade, as one sentence for people (never a raw dump)."""
    d = detail if isinstance(detail, dict) else {}
    if grade == ERROR:
        problem = d.get("error") or error or "the call failed"
        return f"Not graded: {str(problem)[:300]}"
    ok = grade == PASS
    if kind == "contains":
        word = "contains" if ok else "does not contain"
        return f"The answer {word} {_q(d.get('expected', ''))}."
    if kind == "not_contains":
        word = "does not contain" if ok else "contains"
        return f"The answer {word} the forbidden text {_q(d.get('forbidden', ''))}."
    if kind == "equals":
        return (
            "The answer equals the expected text."
            if ok
            else ("The answer is not the expected text.")
        )
    if kind == "regex":
        if ok:
            return f"The pattern matched {_q(d.get('match', ''))}."
        return "The pattern matched nothing in the answer."
    if kind == "json_schema":
        if ok:
            return "The answer is valid JSON matching the schema."
        if d.get("errors"):
            shown = "; ".join(str(e) for e in d["errors"][:3])
            more = f" (and {len(d['errors']) - 3} more)" if len(d["errors"]) > 3 else ""
            return f"The JSON does not match the schema: {shown}{more}."
        return f"{d.get('error') or 'The answer is not valid JSON'}."
    if kind == "number":
        expected, tolerance = _num(d.get("expected", "?")), _num(d.get("tolerance", 0))
        if "value" not in d:
            return f"No number in the answer (expected {expected} ± {tolerance})."
        word = "within" if ok else "outside"
        return f"Found {_num(d['value'])}, {word} {expected} ± {tolerance}."
    if kind == "llm_judge":
        who = f"judge {d.get('judge_model', '?')}, rubric v{d.get('rubric_version', '1')}"
        reasoning = d.get("reasoning") or ("It passes the rubric." if ok else "It misses it.")
        return f"{reasoning} ({who})"
    if kind == "human" or grade == PENDING:
        return "Waiting for a person to review this answer."
    return "Passed." if ok else "Failed."


def explain_result(
    kind: str, grade: str, auto_grade: str, detail: dict[str, Any] | None, error: str = ""
) -> str:
    """explain() for a stored result; an override by a person says so first."""
    if auto_grade and auto_grade != grade:
        said = explain(kind, auto_grade, detail, error)
        return f"Marked {grade} by a person (the grader said {auto_grade}: {said})"
    return explain(kind, grade, detail, error)
