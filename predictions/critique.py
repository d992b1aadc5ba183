"""A Claude critique of a new prediction's rationale (issue 19): the prompt, and what the fake
Messages API answers to it. Pure functions.

The critique is advice shown beside the form: it never changes the prediction. It is given the
same outside view the form always shows (the line's implied growth, the metric's own trend and
the author's track record), so it argues from the numbers the author can see.
"""

from __future__ import annotations

import re

SYSTEM_MARKER = "You are the Exponent forecast critic."
SYSTEM_PROMPT = (
    SYSTEM_MARKER
    + " A person is about to commit a written forecast of a metric. Critique their rationale, "
    "briefly and concretely, in three short paragraphs: (1) base rates: how the forecast "
    "compares with the metric's own history and with how such trends usually go; (2) what the "
    "rationale assumes without saying, and the strongest case against it; (3) what evidence in "
    "the next quarter would change the forecast, up or down. Use only the figures given; do "
    "not invent data. Do not rewrite the forecast and do not give a number of your own."
)
RATIONALE_LIMIT = 6000


def user_prompt(
    *,
    metric: str,
    unit: str,
    scale: str,
    claim: str,
    kind: str,
    horizon: str,
    line: str = "",
    history: str = "",
    comparison: str = "",
    track_record: str = "",
    rationale: str,
) -> str:
    """The user message: the forecast, the outside view and the rationale (what is sent)."""
    lines = [
        f"Metric: {metric}" + (f" (unit: {unit})" if unit else ""),
        f"Scale: {scale}",
        f"Forecast ({kind}): {claim}",
        f"Horizon: {horizon}",
    ]
    if line:
        lines.append(f"Implied growth of the line: {line}")
    if history:
        lines.append(f"The metric's own history: {history}")
    if comparison:
        lines.append(f"Comparison: {comparison}")
    lines.append(f"The author's track record: {track_record or 'no scored lines yet'}")
    text = rationale.strip()
    if len(text) > RATIONALE_LIMIT:
        text = text[: RATIONALE_LIMIT - 1].rstrip() + "…"
    lines += ["Rationale:", text]
    return "\n".join(lines)


def _field(prompt: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}: (.*)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def scripted_critique(prompt: str) -> str:
    """The fake API's critique: three paragraphs naming the metric and the figures sent."""
    metric = re.sub(r" \(unit: .*\)$", "", _field(prompt, "Metric")) or "this metric"
    history = _field(prompt, "The metric's own history")
    comparison = _field(prompt, "Comparison")
    if history and not history.startswith("Not enough history"):
        base = f"{metric}'s own history is {history.rstrip('.')}."
    else:
        base = f"{metric} has too little history for a trend, so the line rests on the rationale."
    return (
        f"Base rates: {base} "
        + (f"{comparison} " if comparison else "")
        + "Trends like this one usually slow before they stop; a forecast that keeps the "
        "recent pace should say why it will not.\n\n"
        "Unstated assumption: the rationale assumes the conditions behind the recent "
        f"readings of {metric} continue. The strongest case against it is a plateau as the "
        "easy gains run out.\n\n"
        f"What would change the forecast: two quarters of {metric} readings below the line's "
        "band would argue for a slower line; a new model generation that moves the metric "
        "by a multiple would argue for a faster one."
    )
