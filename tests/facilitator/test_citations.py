"""Pure: the evidence block, reading citations back, and the fake's scripted draft."""

from planning.facilitator.citations import (
    UNCITED_TRIGGER,
    EvidenceItem,
    evidence_block,
    resolve,
    scripted_draft,
)

ITEMS = [
    EvidenceItem("P12", "Horizons double", "METR, 1.4× too high", "/t/a/predictions/12/"),
    EvidenceItem("A3", "Contract review", "Lit up", "/t/a/ideas/3/"),
    EvidenceItem("S1", "Code review", "41% of the time", "/t/a/bottlenecks/7/"),
]


def test_evidence_block_has_one_line_per_item_with_its_id():
    block = evidence_block("Look back", "2026-Q3", ITEMS)
    lines = block.splitlines()
    assert lines[0] == "Quarterly review 2026-Q3, step “Look back”. Evidence:"
    assert lines[1] == "[P12] prediction: Horizons double — METR, 1.4× too high"
    assert lines[2].startswith("[A3] audited idea: Contract review")
    assert "(no evidence for this step)" in evidence_block("Look back", "2026-Q3", [])


def test_citations_resolve_to_the_evidence_and_the_rest_is_flagged():
    text = (
        "Horizons ran ahead [P12], and review is the limit [S1].\n\n"
        "Contract review lit up [A3] but [P99] is not evidence.\n\n"
        "Bad shape [p12] here.\n\n"
        "Nothing cited at all."
    )
    first, second, third, fourth = resolve(text, ITEMS)
    links = [(s.cid, s.url) for s in first.segments if s.cid]
    assert links == [("P12", "/t/a/predictions/12/"), ("S1", "/t/a/bottlenecks/7/")]
    assert "".join(s.text for s in first.segments) == first.text
    assert not first.flagged
    assert second.cited and second.unknown == ["P99"] and second.flagged
    assert third.unknown == ["p12"] and not third.cited and third.flagged
    assert fourth.segments[0].text == "Nothing cited at all." and fourth.flagged


def test_scripted_draft_cites_only_ids_it_was_given():
    block = evidence_block("Look back", "2026-Q3", ITEMS)
    paragraphs = resolve(scripted_draft(block), ITEMS)
    assert paragraphs and not any(p.flagged for p in paragraphs)
    cited = {s.cid for p in paragraphs for s in p.segments if s.cid}
    assert cited == {"P12", "A3", "S1"}
    asked = resolve(scripted_draft(block + f"\n{UNCITED_TRIGGER}"), ITEMS)
    assert [p.flagged for p in asked] == [False, True]
