"""Probes from an idea (issue 19): the prompt that asks a model for 3–5 probes, reading its
answer back defensively, and the probe-form data each proposal becomes. Pure functions.

The model is asked for one JSON object, ``{"probes": [...]}``; its answer may wrap it in a
``` fence or in prose. Whatever comes back, `parse` returns either the proposals (each a dict
of the probe form's fields) or one message a person can read; it never raises. Whether a
proposal is a valid probe is decided by the probe form itself (audits.propose.validate), the
same validation a person's own probe goes through.

`scripted_answer` is what the fake Messages API (devtools/fakeapi.py) answers to this prompt,
derived from the idea's own text, so tests and offline demos work without a key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from planning.inputs import InputError, parse_json

# The marker the fake API recognises; it is part of the system prompt sent to any model.
SYSTEM_MARKER = "You are the Exponent probe designer."
# Text in an idea that makes the fake answer badly, for tests and demos of the error paths.
MALFORMED_TRIGGER = "fake-malformed"
INVALID_TRIGGER = "fake-invalid-grader"

MIN_PROBES, MAX_PROBES = 3, 5
KINDS = ("contains", "regex", "json_schema", "llm_judge")
TEXT_LIMIT = 4000  # characters of an idea's description or failure note sent

SYSTEM_PROMPT = (
    SYSTEM_MARKER
    + " A team keeps ideas that failed because the model of the day was not good enough, and "
    "re-tests them on newer models with probes: a prompt plus a grader that decides whether "
    "the answer passes. From the idea and the reason it failed, propose 3 to 5 probes that "
    "would show whether a model can now do what the idea needs. Each probe tests one thing, "
    "and its grader must be checkable from the answer alone. Answer with one JSON object and "
    'nothing else: {"probes": [{"name": "...", "user_message": "...", "system_prompt": "" '
    '(optional), "grader": "contains" | "regex" | "json_schema" | "llm_judge", "expected": '
    '"text the answer must contain" (contains), "pattern": "a Python regular expression" '
    '(regex), "schema": {a JSON Schema, draft 2020-12} (json_schema), "rubric": "what a '
    'passing answer does" (llm_judge), "why": "one sentence: what this probe shows"}]}.'
)


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def user_prompt(
    *, title: str, description: str, capability: str, failed_on: str, why_failed: str
) -> str:
    """The user message: the idea and its recorded failure (exactly what is sent)."""
    lines = [f"Idea: {_clip(title, 200)}"]
    if description.strip():
        lines.append(f"Description: {_clip(description)}")
    if capability.strip():
        lines.append(f"Capability needed: {_clip(capability, 200)}")
    lines.append(f"Failed on: {failed_on}")
    lines.append(
        f"Why it failed: {_clip(why_failed)}" if why_failed.strip() else "Why it failed: not noted"
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- reading back
@dataclass(frozen=True)
class Parsed:
    proposals: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""  # a message for a person when nothing usable came back
    note: str = ""  # something true about what came back (fewer or more than asked)


_FENCE = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
MALFORMED = (
    "Claude's answer was not the JSON list of probes that was asked for, so nothing can be "
    "proposed from it. Nothing was saved; try again."
)


def _candidates(text: str) -> list[str]:
    """Places the JSON may be: the whole answer, each fenced block, the outermost braces."""
    found = [text.strip()]
    found += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        found.append(text[start : end + 1])
    return [c for c in found if c]


def _load(text: str) -> Any:
    for candidate in _candidates(text):
        try:
            return parse_json(candidate)
        except InputError:
            continue
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


def normalise(item: Any) -> dict[str, Any]:
    """One proposal as probe-form fields (strings; the schema as JSON text). Anything that is
    not a JSON object becomes an empty proposal, which the form then refuses."""
    if not isinstance(item, dict):
        return {"name": "", "user_message": "", "grader": "", "why": "", "not_an_object": True}
    grader = _text(item.get("grader")).lower().replace("-", "_").replace(" ", "_")
    grader = {"judge": "llm_judge", "rubric": "llm_judge", "schema": "json_schema"}.get(
        grader, grader
    )
    schema = item.get("schema")
    if isinstance(schema, str):
        schema_text = schema.strip()
    elif schema is None:
        schema_text = ""
    else:
        schema_text = json.dumps(schema, indent=2)
    return {
        "name": _text(item.get("name"))[:200],
        "system_prompt": _text(item.get("system_prompt")),
        "user_message": _text(item.get("user_message") or item.get("prompt")),
        "grader": grader,
        "expected": _text(item.get("expected")),
        "case_sensitive": item.get("case_sensitive") is True,
        "pattern": _text(item.get("pattern")),
        "schema": schema_text,
        "rubric": _text(item.get("rubric")),
        "why": _text(item.get("why"))[:500],
    }


def parse(text: str) -> Parsed:
    """The proposals in a model's answer, or why there are none. Never raises."""
    data = _load(text or "")
    if isinstance(data, dict):
        data = data.get("probes")
    if not isinstance(data, list):
        return Parsed(error=MALFORMED)
    if not data:
        return Parsed(error="Claude proposed no probes for this idea. Nothing was saved.")
    note = ""
    if len(data) > MAX_PROBES:
        note = f"Claude proposed {len(data)} probes; the first {MAX_PROBES} are shown."
        data = data[:MAX_PROBES]
    elif len(data) < MIN_PROBES:
        note = f"Claude proposed {len(data)} probe{'s' if len(data) != 1 else ''}, not 3 to 5."
    return Parsed(proposals=[normalise(item) for item in data], note=note)


def form_data(proposal: dict[str, Any], judge_model: str) -> dict[str, str]:
    """The probe form's POST data for a proposal (one sample, temperature 0, 1,024 tokens);
    a judge grader is given the team's facilitator model as its judge."""
    data = {
        "name": proposal.get("name", ""),
        "system_prompt": proposal.get("system_prompt", ""),
        "user_message": proposal.get("user_message", ""),
        "prior_turns": "",
        "max_tokens": "1024",
        "temperature": "0",
        "samples": "1",
        "pass_k": "1",
        "grader": proposal.get("grader", ""),
        "expected": proposal.get("expected", ""),
        "pattern": proposal.get("pattern", ""),
        "schema": proposal.get("schema", ""),
        "rubric": proposal.get("rubric", ""),
        "rubric_version": "1",
        "judge_model": judge_model if proposal.get("grader") == "llm_judge" else "",
        "grader_config": "",
    }
    if proposal.get("case_sensitive"):
        data["case_sensitive"] = "on"
    return data


# ----------------------------------------------------------------------------- the fake
def _field(prompt: str, label: str) -> str:
    match = re.search(rf"^{label}: (.*)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _keyword(text: str, default: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text) if "fake" not in w.lower()]
    return max(words, key=len) if words else default


def scripted_answer(prompt: str) -> str:
    """The fake API's answer: 4 probes built from the idea in the prompt, in a ```json fence
    after a sentence of prose (as a model often answers). An idea mentioning MALFORMED_TRIGGER
    gets prose only; one mentioning INVALID_TRIGGER gets a regex grader that does not compile."""
    title = _field(prompt, "Idea") or "the idea"
    description = _field(prompt, "Description")
    why = _field(prompt, "Why it failed")
    if MALFORMED_TRIGGER in prompt:
        return f"Here are some thoughts on {title}: test it on a harder case first."
    word = _keyword(description or title, "answer")
    probes = [
        {
            "name": f"{title}: names the key term",
            "user_message": f"{title}. {description}".strip()
            + f" In one paragraph, explain how you would do this; use the word “{word}”.",
            "grader": "contains",
            "expected": word,
            "why": f"The answer engages with “{word}”, the heart of the idea.",
        },
        {
            "name": f"{title}: a numbered plan",
            "user_message": f"Give a numbered plan of three steps for: {title}.",
            "grader": "regex",
            "pattern": "([unclosed" if INVALID_TRIGGER in prompt else r"(?m)^\s*1[.)]\s+\S",
            "why": "The model structures the work before doing it.",
        },
        {
            "name": f"{title}: structured output",
            "user_message": f"For “{title}”, answer only with JSON: "
            '{"feasible": true or false, "reason": "..."}.',
            "grader": "json_schema",
            "schema": {
                "type": "object",
                "required": ["feasible", "reason"],
                "properties": {"feasible": {"type": "boolean"}, "reason": {"type": "string"}},
            },
            "why": "The answer can be used by a program, not only read.",
        },
        {
            "name": f"{title}: overcomes the recorded failure",
            "user_message": f"{title}. {description}".strip() + " Do it now, in full.",
            "grader": "llm_judge",
            "rubric": f"The answer does what the idea needs and avoids the recorded failure: "
            f"{why or 'not noted'}",
            "why": "Directly tests the reason it failed last time.",
        },
    ]
    block = json.dumps({"probes": probes}, indent=2, ensure_ascii=False)
    return f"Four probes for “{title}”:\n\n```json\n{block}\n```\n"
