"""The thin layer between audits and the durable live sessions of planning.live.

Audit progress is always written to AuditRun/Result rows first (the source of truth for the
pages); the live session carries the same progress, per-call tokens and grades to every open
tab as it happens. A run or call without a session (or one whose session ended) writes nothing.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, connection
from redis import RedisError

from planning.inputs import shorten
from planning.live import notify as live_notify
from planning.live import writer as live_writer
from planning.live.models import LiveSession
from planning.live.models import Status as LiveStatus

log = logging.getLogger(__name__)


def create_session(team, user, kind: str, title: str) -> Any:
    return LiveSession.objects.create(
        team=team, kind=kind, title=shorten(title, 200), created_by=user
    ).pk


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
        except DatabaseError:  # live output is best effort: the rows are the truth
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
        except (DatabaseError, RedisError):
            return False


def claim(session_id, task_id: str = "") -> SafeWriter | NullWriter:
    """Take a session for this task delivery (bumps its epoch, writes `started`)."""
    if not session_id:
        return NullWriter()
    try:
        return SafeWriter(live_writer.LiveWriter.claim(session_id, task_id=task_id))
    except live_writer.Fenced:
        return NullWriter()


def join(session_id, epoch: int | None) -> SafeWriter | NullWriter:
    if not session_id or epoch is None:
        return NullWriter()
    return SafeWriter(live_writer.LiveWriter.join(session_id, epoch))


def end(session_id, status: str, data: dict | None = None, *, grace: float = 0.0) -> bool:
    """End a session as its authority (completion, budget, stop): idempotent. What this
    process's feed holds for the session is written first; `grace` seconds more give the
    feeds of other worker processes their next flush."""
    if not session_id:
        return False
    FEED.flush(session_id)
    if grace:
        time.sleep(grace)
        FEED.flush(session_id)
    try:
        return live_writer.end_session(session_id, status, data or {})
    except DatabaseError:
        log.warning("could not end live session %s", session_id, exc_info=True)
        return False


def note_stopping(session_id, user) -> None:
    """Tell every tab a stop was asked for, then raise the session's fast stop flag.

    The event goes first: a worker that sees the flag ends the session, after which the
    event could no longer be written."""
    if not session_id:
        return
    try:
        live_writer.append(session_id, [("stopping", {"by": getattr(user, "display_name", "")})])
    except live_writer.Fenced:
        return  # the session has ended already: nothing is stopping any more
    live_notify.set_stop_flag(session_id)


def session_moved_on(session_id, epoch: int) -> bool:
    """Has the session ended, been asked to cancel or been taken over by a newer epoch?"""
    row = (
        LiveSession.objects.filter(pk=session_id)
        .values("status", "epoch", "cancel_requested_at")
        .first()
    )
    return (
        row is None
        or bool(row["cancel_requested_at"])
        or row["status"] != LiveStatus.ACTIVE
        or row["epoch"] != epoch
    )


def session_status(session_id) -> str | None:
    if not session_id:
        return None
    return LiveSession.objects.filter(pk=session_id).values_list("status", flat=True).first()


class Feed:
    """Batches an audit run's live output, per worker process, into few writes.

    A run's calls stream at once, one thread each on the audits worker. Written one by one,
    every token delta and result would take the live session's row lock (hundreds of times a
    second at 20 concurrent streaming calls). The feed queues them in memory instead, in
    order (a stream's tokens coalesce into one `token` event per flush, before its `result`),
    and one background thread appends everything queued for a session in one transaction
    every `interval` seconds. Live output is best effort: the rows are the source of truth;
    a session that has ended or moved to a newer epoch drops what was queued for it.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self._lock = threading.Lock()  # guards the queues
        self._write_lock = threading.Lock()  # one writer at a time keeps the order
        self._queues: dict[tuple, list[tuple[str, dict]]] = {}
        self._open_tokens: dict[tuple, dict[str, dict]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def token(self, session_id, epoch: int | None, stream: str, text: str) -> None:
        if not text or not session_id or epoch is None:
            return
        key = (session_id, epoch)
        with self._lock:
            pending = self._open_tokens.setdefault(key, {}).get(stream)
            if pending is None:
                pending = {"text": "", "stream": stream}
                self._open_tokens[key][stream] = pending
                self._queues.setdefault(key, []).append(("token", pending))
            pending["text"] += text
        self._ensure_thread()

    def emit(self, session_id, epoch: int | None, type: str, data: dict, stream: str = "") -> None:
        """Queue an event; it closes `stream`'s token event (later tokens start a new one)."""
        if not session_id or epoch is None:
            return
        key = (session_id, epoch)
        with self._lock:
            self._open_tokens.get(key, {}).pop(stream, None)
            self._queues.setdefault(key, []).append((type, data))
        self._ensure_thread()

    def flush(self, session_id=None) -> None:
        """Write what is queued (for one session, or all) now, in this thread."""
        with self._write_lock:
            with self._lock:
                keys = [k for k in self._queues if session_id is None or k[0] == session_id]
                batches = [(k, self._queues.pop(k)) for k in keys]
                for k in keys:
                    self._open_tokens.pop(k, None)
            for (sid, epoch), events in batches:
                try:
                    live_writer.append(sid, events, epoch=epoch)
                except live_writer.Fenced:
                    pass  # the session ended or a resume took over: nobody wants these
                except DatabaseError:  # live output is best effort
                    log.warning("live feed write failed for %s", sid, exc_info=True)
                    connection.close()  # a broken connection must not stick to this thread

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="audits-feed", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._queues:
                self.flush()


FEED = Feed()
atexit.register(FEED.flush)  # a worker's warm shutdown keeps the last events
