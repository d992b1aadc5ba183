"""One-line descriptions of events, shared by the server-rendered snapshot and live.js
(static/js/live.js has the same rules; keep them in step)."""

from __future__ import annotations

from typing import Any

LABELS = {"completed": "Completed", "cancelled": "Cancelled", "failed": "Failed"}


def describe(type: str, data: dict[str, Any]) -> str:
    data = data or {}
    if type == "started":
        epoch = data.get("epoch", 1)
        return "Started" if epoch <= 1 else f"Restarted on another worker (attempt {epoch})"
    if type == "stopping":
        by = data.get("by")
        return f"Stopping… (requested by {by})" if by else "Stopping…"
    if type == "progress":
        label = data.get("label") or "Progress"
        if "done" in data and "total" in data:
            return f"{label}: {data['done']} of {data['total']}"
        return label
    if type == "error":
        return f"Error: {data.get('message') or data.get('error') or ''}".strip()
    if type in LABELS:
        text = LABELS[type]
        if data.get("error"):
            text += f": {data['error']}"
        elif data.get("forced"):
            text += " (the worker was stopped)"
        if data.get("chars"):
            text += f" · {data['chars']} characters"
        return text
    if type == "result":
        return describe_result(data)
    if type == "steer":
        by = data.get("by")
        if data.get("revision"):
            asked = f"Revision asked by {by}" if by else "Revision asked"
            return f"{asked}: “{data.get('text', '')}”"
        return (
            f"Steer from {by}: “{data.get('text', '')}”"
            if by
            else f"Steer: “{data.get('text', '')}”"
        )
    if type == "steer_applied":
        return f"Continuing with “{data.get('text', '')}”"
    return type


GRADES = {"pass": "PASS", "fail": "FAIL", "pending": "AWAITING REVIEW", "error": "ERROR"}


def describe_result(data: dict[str, Any]) -> str:
    """A result in words: "PASS · Idea / probe on model · 123 tokens · $0.0012"."""
    grade = str(data.get("grade", ""))
    parts = [GRADES.get(grade, grade.upper() or "Result")]
    what = " / ".join(str(data[k]) for k in ("idea", "probe_name") if data.get(k))
    model = data.get("model_name") or data.get("resolved_model")
    if what or model:
        parts.append(f"{what} on {model}" if what and model else what or f"answered by {model}")
    if data.get("error_kind"):
        parts.append(str(data["error_kind"]).replace("_", " "))
    if data.get("tokens"):
        parts.append(f"{data['tokens']} tokens")
    if data.get("cost_usd") not in (None, "", "0", "0.000000"):
        parts.append(f"${data['cost_usd']}")
    return " · ".join(parts)
