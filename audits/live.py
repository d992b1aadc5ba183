"""The thin layer between audits and the durable live sessions of planning.live.

Audit progress is always written to AuditRun/Result rows first (the source of truth for the
pages); the live session carries the same progress, per-call tokens and grades to every open
tab as it happens. If planning.live is not installed every function here is a harmless no-op.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

try:  # planning.live is a sibling app built in parallel; audits work without it.
    from planning.live import notify as live_notify
    from planning.live import writer as live_writer
    from planning.live.models import LiveSession
except ImportError:  # pragma: no cover - exercised only without planning.live
    live_writer = live_notify = LiveSession = None


def available() -> bool:
    return live_writer is not None


def create_session(team, user, kind: str, title: str) -> Any:
    if not available():
        return None
    return LiveSession.objects.create(team=team, kind=kind, title=title[:200], created_by=user).pk


class NullWriter:
    epoch = 0
    closed = True

    def emit(self, type: str, data: dict | None = None) -> int:
        return 0

    def token(self, text: str, stream: str = "main") -> None:
        pass

    def flush(self) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def finish(self, status: str = "completed", data: dict | None = None) -> bool:
        return False


class SafeWriter:
    """A LiveWriter whose failures never break the audit: the rows are the source of truth.
    A fenced or failing writer goes quiet; should_stop() keeps answering."""

    def __init__(self, writer) -> None:
        self._writer = writer
        self.epoch = writer.epoch

    def _guard(self, method: str, *args, **kwargs):
        if self._writer.closed:
            return None
        try:
            return getattr(self._writer, method)(*args, **kwargs)
        except live_writer.Fenced:
            return None
        except Exception:  # noqa: BLE001 - live output is best effort
            log.warning("live write failed", exc_info=True)
            return None

    def emit(self, type: str, data: dict | None = None):
        return self._guard("emit", type, data)

    def token(self, text: str, stream: str = "main") -> None:
        self._guard("token", text, stream)

    def flush(self) -> None:
        self._guard("flush")

    def finish(self, status: str = "completed", data: dict | None = None):
        return self._guard("finish", status, data)

    def should_stop(self) -> bool:
        try:
            return self._writer.should_stop()
        except Exception:  # noqa: BLE001
            return False


def claim(session_id, task_id: str = "") -> SafeWriter | NullWriter:
    """Take a session for this task delivery (bumps its epoch, writes `started`)."""
    if not available() or not session_id:
        return NullWriter()
    try:
        return SafeWriter(live_writer.LiveWriter.claim(session_id, task_id=task_id))
    except live_writer.Fenced:
        return NullWriter()


def join(session_id, epoch: int | None) -> SafeWriter | NullWriter:
    if not available() or not session_id or epoch is None:
        return NullWriter()
    return SafeWriter(live_writer.LiveWriter.join(session_id, epoch))


def end(session_id, status: str, data: dict | None = None) -> bool:
    """End a session as its authority (completion, budget, stop): idempotent."""
    if not available() or not session_id:
        return False
    try:
        return live_writer.end_session(session_id, status, data or {})
    except Exception:  # noqa: BLE001
        log.warning("could not end live session %s", session_id, exc_info=True)
        return False


def note_stopping(session_id, user) -> None:
    """Raise the session's fast stop flag and tell every tab a stop was asked for."""
    if not available() or not session_id:
        return
    try:
        live_notify.set_stop_flag(session_id)
        live_writer.append(session_id, [("stopping", {"by": getattr(user, "display_name", "")})])
    except Exception:  # noqa: BLE001 - the session may have ended already
        pass


def session_status(session_id) -> str | None:
    if not available() or not session_id:
        return None
    return LiveSession.objects.filter(pk=session_id).values_list("status", flat=True).first()
