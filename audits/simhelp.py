"""What the simulated models answer, in words, for the help panel (from the same
audits/fake_rules.json the fake Messages API streams), so a newcomer can make an idea light up
in the first five minutes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .simulated import Rules

# Rules for the project's own tests and the judge: not prompts a newcomer would write.
HIDDEN = ("strict grader", "PACED-", "SLOW-PROBE", "FLAKY-", "ALWAYS-OVERLOADED", "LONG-ANSWER")


@dataclass(frozen=True)
class Answer:
    models: str  # "sim-claude-4-20260115" or "every other model"
    text: str


@dataclass(frozen=True)
class PromptHelp:
    contains: str
    answers: tuple[Answer, ...]


@lru_cache(maxsize=1)
def simulated_answers() -> tuple[list[PromptHelp], str]:
    """[(a prompt containing …, what each simulated model answers)], and the default answer."""
    rules = Rules.load()
    found: dict[str, list[Answer]] = {}
    for rule in rules.rules:
        key = rule.get("contains")
        if not key or any(h.lower() in key.lower() for h in HIDDEN) or "error" in rule:
            continue
        models = ", ".join(rule.get("models", [])) or "every other model"
        found.setdefault(key, []).append(Answer(models, rule["text"]))
    return [PromptHelp(k, tuple(v)) for k, v in found.items()], rules.default_text
