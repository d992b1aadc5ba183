""" "Find the missing side": the prompts and the rules, as pure functions (no Django).

A bet (a backlog item of a review) holds its opportunity (light) and its risk (shade)
together. For a bet with only one side written, Claude proposes the other; the proposal is
only a proposal until a person accepts it (then it becomes a note of the missing kind, marked
AI-drafted). Nothing here waives or writes anything.

Every bet of a run is one model call, and all of them send the same review evidence first: it
is the second system block, marked `cache_control`, so the first call writes it to the prompt
cache and the others read it (0.1 x the input price instead of 1 x). Only the user message,
the bet itself, differs.

`scripted_side` is what the fake Messages API (devtools/fakeapi.py) answers to this prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .citations import EvidenceItem, evidence_block

SIDES = {"light": "light (opportunity)", "shade": "shade (risk)"}
MISSING = {"light-only": "shade", "shade-only": "light"}

# The marker the fake API recognises; it is part of the system prompt sent to any model.
SIDE_MARKER = "You are the Exponent light-and-shade facilitator."
SIDE_SYSTEM_PROMPT = (
    SIDE_MARKER
    + " A team holds the opportunity (light) and the risk (shade) of every bet together. "
    "You are given the evidence of the team's quarterly review, then one bet that has only "
    "one side written. Propose the missing side in one to three plain sentences, specific to "
    "that bet and to the evidence, citing the ids of evidence items you rely on in square "
    "brackets, e.g. [B12]. Write no heading and no preamble. Never suggest that the side can "
    "be skipped or waived: a person decides that."
)

NOTE_LIMIT = 2000  # a light or shade note holds at most this many characters
MARK = "(AI-drafted with {model}, accepted by {by})"
# what a person may keep of a proposal: the note must still hold the mark after it
TEXT_LIMIT = 1800


def missing_kind(balance: str) -> str | None:
    """The side to propose for a bet's balance ('light-only' -> 'shade'), else None: a bet with
    both sides needs nothing, and one with neither needs a person to write a side first."""
    return MISSING.get(balance)


def system_blocks(step_title: str, quarter: str, items: Sequence[EvidenceItem]) -> list[dict]:
    """The system prompt, then the shared evidence marked for the prompt cache."""
    return [
        {"type": "text", "text": SIDE_SYSTEM_PROMPT},
        {
            "type": "text",
            "text": evidence_block(step_title, quarter, items),
            "cache_control": {"type": "ephemeral"},
        },
    ]


def bet_request(cid: str, title: str, missing: str, written: Sequence[str]) -> str:
    """The per-bet user message: the bet, the side it has, the side to propose."""
    have = "shade" if missing == "light" else "light"
    lines = [f"Bet [{cid}] “{title}”.", f"Its {SIDES[have]}, as the team wrote it:"]
    lines += [f"- {text}" for text in written] or ["- (nothing)"]
    lines.append(f"Propose its {SIDES[missing]}.")
    return "\n".join(lines)


def clean(text: str) -> str:
    """The model's answer as a note: trimmed, runs of blank lines folded to one."""
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", (text or "").strip())


def marked(text: str, model: str, by: str) -> str:
    """The note an accepted proposal becomes: its text, then who drafted and who accepted."""
    return f"{text.strip()}\n\n{MARK.format(model=model or 'Claude', by=by)}"


# --------------------------------------------------------------------------- usage in words
def usage_words(usage: dict[str, Any]) -> str:
    """'1,234 tokens in (1,000 written to the prompt cache, 3,000 read from it), 300 out'."""
    cache = []
    if usage.get("cache_creation_tokens"):
        cache.append(f"{usage['cache_creation_tokens']:,} written to the prompt cache")
    if usage.get("cache_read_tokens"):
        cache.append(f"{usage['cache_read_tokens']:,} read from the prompt cache")
    text = f"{usage.get('input_tokens', 0):,} tokens in"
    if cache:
        text += f" ({', '.join(cache)})"
    return text + f", {usage.get('output_tokens', 0):,} out"


# --------------------------------------------------------------------------- the fake's script
_BET = re.compile(r"^Bet \[(B\d+)\] “(.*)”\.$", re.MULTILINE)
_WANT = re.compile(r"^Propose its (light|shade) ", re.MULTILINE)


def scripted_side(prompt: str) -> str:
    """A short proposal of the missing side for the bet in the prompt (the fake's answer)."""
    bet, want = _BET.search(prompt), _WANT.search(prompt)
    if bet is None or want is None:
        return "There is no bet in this request, so there is no side to propose."
    cid, title = bet.groups()
    if want.group(1) == "shade":
        return (
            f"The risk: “{title}” [{cid}] may cost more than it returns if the model it relies "
            "on changes under it, and nobody owns checking that. A plan for what the team stops "
            "doing if the first results disappoint would hold the risk in view."
        )
    return (
        f"The opportunity: if “{title}” [{cid}] works, the team learns early what the next "
        "model makes possible, and the work it saves can go to the stage that limits the team "
        "today."
    )
