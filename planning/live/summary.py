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
        return "Result: " + ", ".join(f"{k} {v}" for k, v in sorted(data.items()))
    return type
