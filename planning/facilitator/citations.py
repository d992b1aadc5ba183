"""Evidence blocks and citations of the review facilitator: pure functions, no Django.

An evidence item is one object of the team's own data (a prediction, an idea, a form factor, a
bottleneck stage, a backlog bet) with a citation id such as ``P12`` (kind letter + number).
The model sees the evidence block and must cite an id for every claim, as ``[P12]``.
Reading its answer back, every paragraph is split into text and citations; a citation whose id
is not in the evidence, and a paragraph without any citation, are flagged.

`scripted_draft` is what the fake Messages API (devtools/fakeapi.py) answers to the
facilitator's prompt, so tests and offline demos draft from the same evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

KINDS: dict[str, str] = {
    "P": "prediction",
    "A": "audited idea",
    "F": "form factor",
    "S": "bottleneck stage",
    "B": "backlog bet",
    "C": "commitment",
}

# The marker the fake API recognises; it is part of the system prompt sent to any model.
SYSTEM_MARKER = "You are the Exponent review facilitator."
# A prompt containing this (e.g. in an evidence title) makes the fake add an uncited sentence.
UNCITED_TRIGGER = "fake-uncited"

SYSTEM_PROMPT = (
    SYSTEM_MARKER
    + " You draft the team's notes for one step of their quarterly review, using only the "
    "evidence given. Every claim must cite the id of the evidence item it comes from, in "
    "square brackets, e.g. [P12]; write no claim without a citation and never invent an id. "
    "Write two to four short paragraphs in plain prose separated by blank lines, with no "
    "headings. If the evidence is empty, say in one sentence that there is nothing to draft."
)

CITATION = re.compile(r"\[([A-Z])(\d{1,9})\]")
_ANY_BRACKET_ID = re.compile(r"\[([A-Za-z]{1,3}-?\d{1,9})\]")


@dataclass(frozen=True)
class EvidenceItem:
    cid: str  # "P12"
    label: str
    detail: str = ""
    url: str = ""

    @property
    def kind(self) -> str:
        return KINDS.get(self.cid[:1], "item")

    def line(self) -> str:
        text = f"[{self.cid}] {self.kind}: {self.label}"
        return f"{text} — {self.detail}" if self.detail else text

    def as_dict(self) -> dict[str, str]:
        return {"cid": self.cid, "label": self.label, "detail": self.detail, "url": self.url}

    @classmethod
    def from_dict(cls, data: dict) -> EvidenceItem:
        return cls(
            cid=str(data.get("cid", "")),
            label=str(data.get("label", "")),
            detail=str(data.get("detail", "")),
            url=str(data.get("url", "")),
        )


def evidence_block(step_title: str, quarter: str, items: Sequence[EvidenceItem]) -> str:
    """The user message: the step, then one line per evidence item (what is sent, exactly)."""
    head = f"Quarterly review {quarter}, step “{step_title}”. Evidence:"
    if not items:
        return head + "\n(no evidence for this step)"
    return "\n".join([head, *(item.line() for item in items)])


# --------------------------------------------------------------------------- reading a draft
@dataclass(frozen=True)
class Segment:
    text: str
    cid: str = ""  # a citation when set
    url: str = ""
    label: str = ""
    known: bool = True


@dataclass
class Paragraph:
    text: str
    segments: list[Segment] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def cited(self) -> bool:
        return any(s.cid and s.known for s in self.segments)

    @property
    def flagged(self) -> bool:
        return bool(self.unknown) or not self.cited


def paragraphs_of(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]


def resolve(text: str, items: Iterable[EvidenceItem]) -> list[Paragraph]:
    """The draft split into paragraphs of text and citations, each citation resolved against
    the evidence (unknown ids and bracketed ids of the wrong shape are `known=False`)."""
    by_id = {item.cid: item for item in items}
    out = []
    for para in paragraphs_of(text):
        paragraph = Paragraph(text=para)
        pos = 0
        for match in _ANY_BRACKET_ID.finditer(para):
            if match.start() > pos:
                paragraph.segments.append(Segment(para[pos : match.start()]))
            cid = match.group(1)
            item = by_id.get(cid) if CITATION.fullmatch(match.group(0)) else None
            if item is None:
                paragraph.unknown.append(cid)
                paragraph.segments.append(Segment(match.group(0), cid=cid, known=False))
            else:
                paragraph.segments.append(
                    Segment(match.group(0), cid=cid, url=item.url, label=item.label)
                )
            pos = match.end()
        if pos < len(para):
            paragraph.segments.append(Segment(para[pos:]))
        out.append(paragraph)
    return out


# --------------------------------------------------------------------------- the fake's script
def scripted_draft(prompt: str) -> str:
    """A short draft citing the ids present in the prompt (what the fake API answers)."""
    lines = [line for line in prompt.splitlines() if CITATION.match(line.strip())]
    found: list[tuple[str, str]] = []
    for line in lines:
        match = CITATION.match(line.strip())
        assert match is not None
        rest = line.strip()[match.end() :].strip()
        label = rest.split(":", 1)[-1].split(" — ", 1)[0].strip()
        found.append((f"{match.group(1)}{match.group(2)}", label))
    if not found:
        return "There is no evidence for this step yet, so there is nothing to draft."
    paragraphs = []
    first = found[:3]
    paragraphs.append(
        "The evidence points to " + "; ".join(f"“{label}” [{cid}]" for cid, label in first) + "."
    )
    more = found[3:6]
    if more:
        paragraphs.append(
            "Also worth discussing: " + ", ".join(f"{label} [{cid}]" for cid, label in more) + "."
        )
    if UNCITED_TRIGGER in prompt.lower():
        paragraphs.append("Everything will certainly be fine next quarter.")
    return "\n\n".join(paragraphs)
