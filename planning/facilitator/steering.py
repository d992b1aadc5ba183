"""Steering a draft: the conversation a steered continuation or a revision sends, and what the
fake Messages API answers to it. Pure functions, no Django.

A draft is written in turns. A steer ends the running turn at a token boundary; the next turn
sends the evidence, every turn's text so far as the assistant's, and the instructions as the
user's, and asks the model to continue exactly where the text stops (a follow-up turn, not an
assistant prefill: Claude 4.6 models refuse a conversation that ends with the assistant). The
draft is the turns' texts joined: nothing drafted is lost or written twice.

After the end, an instruction asks for a revision: a new draft (linked to the old one) whose
conversation is the evidence, the finished draft and the instruction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .citations import scripted_draft

STEER_MARKER = "Instruction from the team, sent while you were drafting:"
REVISE_MARKER = "The team asks for a revision of your draft:"


@dataclass
class Turn:
    """One model call of a draft: the text it wrote (kept) and the steers that ended it."""

    text: str = ""
    steers: list[str] = field(default_factory=list)
    interrupted: bool = False  # ended before its end (by steers, or a spurious wake-up)


def steer_message(instructions: Sequence[str], drafted: bool) -> str:
    listed = "\n".join(f"- {text}" for text in instructions)
    if not instructions:
        return (
            "Your draft so far is above; it stops there, possibly mid-sentence. Continue it "
            "from exactly where it stops, without repeating anything already written."
        )
    if not drafted:
        return f"{STEER_MARKER}\n{listed}\nApply it to the draft you write."
    return (
        f"{STEER_MARKER}\n{listed}\nYour draft so far is above; it stops there, possibly "
        "mid-sentence. Continue it from exactly where it stops, applying the instruction from "
        "here on. Do not repeat or rewrite anything already written, and keep citing an "
        "evidence id for every claim."
    )


def revise_message(instruction: str) -> str:
    return (
        f"{REVISE_MARKER}\n- {instruction}\nWrite the whole draft again, applying this "
        "instruction, citing an evidence id for every claim as before."
    )


def _add(messages: list[dict[str, Any]], role: str, text: str) -> None:
    """Append a message, merged into the previous one of the same role (the API alternates)."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"] += "\n\n" + text
    else:
        messages.append({"role": role, "content": text})


def messages_for(base: Sequence[dict[str, Any]], turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """The conversation of the next turn: `base` (the evidence, or a revision's request), then
    each turn's text (assistant) and the steers that ended it (user). Empty text sends no
    assistant message; the conversation always ends with the user."""
    messages = [dict(m) for m in base]
    drafted = False
    for turn in turns:
        if turn.text.strip():
            _add(messages, "assistant", turn.text.rstrip())
            drafted = True
        if turn.steers or (turn.interrupted and turn.text.strip()):
            _add(messages, "user", steer_message(turn.steers, drafted))
    return messages


def revision_messages(evidence: str, previous: str, instruction: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": evidence}]
    if previous.strip():
        _add(messages, "assistant", previous.rstrip())
    _add(messages, "user", revise_message(instruction))
    return messages


# --------------------------------------------------------------------------- the fake's script
_LISTED = re.compile(r"^- (.+)$", re.M)
_EVIDENCE = re.compile(r"^\[([A-Z]\d{1,9})\] [^:]+: (.+?)(?: — .*)?$", re.M)


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def scripted_answer(messages: Sequence[dict[str, Any]]) -> str:
    """What the fake API answers to a steered continuation or a revision ("" otherwise): it
    echoes each instruction it applied, in order, and cites the first evidence item."""
    if not messages or messages[-1].get("role") != "user":
        return ""
    last = _text_of(messages[-1])
    evidence = _EVIDENCE.search(_text_of(messages[0]))
    cite = f"“{evidence.group(2)}” [{evidence.group(1)}]" if evidence else "the evidence"
    if REVISE_MARKER in last:
        asked = _LISTED.findall(last.split(REVISE_MARKER, 1)[1])
        applied = "; ".join(f"“{text}”" for text in asked)
        return f"Revised as asked ({applied}): what matters most is {cite}."
    if STEER_MARKER not in last:
        return ""
    asked = [t for part in last.split(STEER_MARKER)[1:] for t in _LISTED.findall(part)]
    applied = " ".join(f"[Applying “{text}”]" for text in asked)
    if not any(m.get("role") == "assistant" for m in messages):  # asked before any text
        return f"{applied} {scripted_draft(_text_of(messages[0]))}"
    return f"{applied} The draft goes on from here as asked, still grounded in {cite}."
