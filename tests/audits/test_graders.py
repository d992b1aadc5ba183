import pytest

from audits import graders as g


@pytest.mark.parametrize(
    ("kind", "response", "config", "expected"),
    [
        ("contains", "The answer is YES.", {"expected": "yes"}, "pass"),
        ("contains", "The answer is YES.", {"expected": "yes", "case_sensitive": True}, "fail"),
        ("contains", "no idea", {"expected": "yes"}, "fail"),
        ("not_contains", "I'm happy to help", {"expected": "as an ai"}, "pass"),
        ("not_contains", "As an AI, I cannot", {"expected": "as an ai"}, "fail"),
        ("equals", "  Paris \n", {"expected": "paris"}, "pass"),
        ("equals", "Paris, France", {"expected": "paris"}, "fail"),
        ("regex", "Order #A-1234 shipped", {"pattern": r"#[A-Z]-\d{4}"}, "pass"),
        ("regex", "Order shipped", {"pattern": r"#[A-Z]-\d{4}"}, "fail"),
        ("regex", "x", {"pattern": "("}, "error"),
        ("number", "The total is 1,234.50 USD", {"expected": 1234.5, "tolerance": 0.01}, "pass"),
        ("number", "The total is 1243", {"expected": 1234.5, "tolerance": 0.5}, "fail"),
        ("number", "about 110", {"expected": 100, "tolerance": 0.1, "relative": True}, "pass"),
        ("number", "no digits here", {"expected": 1}, "fail"),
        ("human", "anything", {}, "pending"),
    ],
)
def test_simple_graders(kind, response, config, expected):
    assert g.grade(kind, response, config).grade == expected


SCHEMA = {
    "type": "object",
    "required": ["parties", "term_months"],
    "properties": {
        "parties": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "term_months": {"type": "integer"},
    },
}


def test_json_schema_pass_and_fenced():
    assert g.grade("json_schema", '{"parties": ["A", "B"], "term_months": 24}',
                   {"schema": SCHEMA}).passed  # fmt: skip
    fenced = 'Here:\n```json\n{"parties": ["A", "B"], "term_months": 1}\n```'
    assert g.grade("json_schema", fenced, {"schema": SCHEMA}).passed


def test_json_schema_failures_say_why():
    bad_json = g.grade("json_schema", "The parties are A and B.", {"schema": SCHEMA})
    assert bad_json.grade == "fail" and "Not valid JSON" in bad_json.detail["error"]
    wrong = g.grade("json_schema", '{"parties": ["A"], "term_months": "two"}', {"schema": SCHEMA})
    assert wrong.grade == "fail"
    assert any("term_months" in e for e in wrong.detail["errors"])
    assert any("parties" in e for e in wrong.detail["errors"])


def test_misconfigured_grader_is_an_error_not_a_crash():
    assert g.grade("contains", "x", {}).grade == "error"
    with pytest.raises(ValueError):
        g.grade("nonsense", "x", {})


def test_validate_config():
    assert g.validate_config("regex", {"pattern": "("})
    assert g.validate_config("json_schema", {"schema": {"type": "nope"}})
    assert g.validate_config("number", {"expected": "abc"})
    assert g.validate_config("llm_judge", {"rubric": "r"}) == [
        "“judge_model” is required for this grader."
    ]
    assert g.validate_config("contains", {"expected": "x"}) == []


JUDGE = {"rubric": "Apologise and offer a remedy.", "rubric_version": "3",
         "judge_model": "sim-claude-4"}  # fmt: skip


def test_judge_pins_model_and_rubric_and_keeps_reasoning():
    seen = {}

    def ask(model, system, user):
        seen.update(model=model, system=system, user=user)
        return '{"verdict": "pass", "reasoning": "Apologises; offers refund."}', "sim-claude-4-2026"

    v = g.grade("llm_judge", "Sorry! Refund sent.", JUDGE, ask=ask, task="Rewrite the reply")
    assert v.grade == "pass"
    assert v.detail["judge_model"] == "sim-claude-4"
    assert v.detail["judge_resolved_model"] == "sim-claude-4-2026"
    assert v.detail["rubric_version"] == "3"
    assert v.detail["rubric_sha"] == g.rubric_fingerprint(JUDGE["rubric"])
    assert v.detail["reasoning"] == "Apologises; offers refund."
    assert seen["model"] == "sim-claude-4"
    assert "<rubric>\nApologise and offer a remedy.\n</rubric>" in seen["user"]
    assert "<response>\nSorry! Refund sent.\n</response>" in seen["user"]


def test_judge_rubric_change_changes_fingerprint():
    assert g.rubric_fingerprint("a") != g.rubric_fingerprint("b")


def test_judge_unreadable_or_failing_is_error():
    v = g.grade("llm_judge", "x", JUDGE, ask=lambda *a: ("I think it is fine", "m"))
    assert v.grade == "error" and v.detail["raw"] == "I think it is fine"

    def boom(*a):
        raise RuntimeError("529")

    v = g.grade("llm_judge", "x", JUDGE, ask=boom)
    assert v.grade == "error" and v.detail["rubric_version"] == "3"


@pytest.mark.parametrize(
    ("grades", "k", "n", "expected"),
    [
        (["pass", "pass", "fail"], 2, 3, "pass"),
        (["pass", "fail", "fail"], 2, 3, "fail"),
        (["pass", "pending", "fail"], 2, 3, "pending"),
        (["pass"], 2, 3, "pending"),  # samples still missing
        (["pass", "error", "fail"], 2, 3, "error"),
        (["fail"], 1, 1, "fail"),
    ],
)
def test_probe_k_of_n(grades, k, n, expected):
    assert g.probe_verdict(grades, k, n) == expected


@pytest.mark.parametrize(
    ("verdicts", "threshold", "expected"),
    [
        (["pass", "pass"], None, "pass"),
        (["pass", "fail"], None, "fail"),
        (["pass", "pending"], None, "pending"),
        (["pass", "error"], None, "error"),
        (["pass", "fail", "pass"], 0.6, "pass"),
        (["pass", "fail", "fail"], 0.6, "fail"),
        ([], None, "pending"),
    ],
)
def test_idea_roll_up(verdicts, threshold, expected):
    assert g.idea_verdict(verdicts, threshold) == expected
