"""The writer side of live sessions: what Celery tasks call.

Typical task (the web process created the session and passed its id)::

    from celery import shared_task
    from planning.live import writer as live

    @shared_task(bind=True)
    def run_audit(self, session_id):
        with live.run(session_id, task_id=self.request.id) as w:
            for i, probe in enumerate(probes):
                if w.should_stop():          # cheap: Redis flag, DB every 2 s
                    break                    # run() then finishes the session as cancelled
                w.emit("progress", {"done": i, "total": len(probes), "label": probe.name})
                for chunk in model_stream(...):
                    w.token(chunk, stream=f"probe-{probe.pk}")   # coalesced, ~75 ms
                    if w.should_stop():
                        break
                w.emit("result", {...})
        # leaving the block normally      -> `completed` (or `cancelled` after a stop)
        # an exception inside the block   -> `failed` with {"error": ...}, then re-raised
        # a Fenced writer (a newer delivery took over, or the session was ended) -> silent

Guarantees:
- `seq` is gapless and commit-ordered: every write locks the session row with
  SELECT ... FOR UPDATE, takes `last_seq + 1 ..`, inserts, and commits in one transaction.
- Producer fencing: `claim()` (done by `run()`) bumps the session's epoch. Every write checks
  the epoch under the same lock, so a redelivered task and a zombie never both write: the
  older one gets `Fenced`. Helper tasks that write to the same run use `join(id, epoch)`.
- Exactly one terminal event (completed / cancelled / failed): it is written only while
  the session is active, and it ends the session in the same transaction.
- Event data is stored as jsonb: a NUL (or lone surrogate) in any string becomes U+FFFD and
  a surrogate pair its character (`storable()`), so odd model output never fails a write.
- After each commit a Redis PUBLISH on `live:<id>` carries the new events to subscribers;
  it is best effort (streams also re-read the log every couple of seconds).

Steering: the web side appends `steer` events (services.steer) and bumps a Redis counter; a
steerable task asks `w.steer_waiting()` between tokens (cheap, like should_stop), takes the new
steers in log order with `w.take_steers()` (each exactly once per delivery: a cursor), and ends
with `w.finish(..., unless_steered=True)`, which refuses (`Steered`) while a steer it has not
taken is in the log: checked under the session's lock, so no steer slips in before the end.

`end_session(id, status, data)` is the authority's path (watchdog, reaper, admin): it ends an
active session regardless of epoch and bumps the epoch so any remaining writer is fenced.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from . import conf, notify
from .models import TERMINAL, LiveEvent, LiveSession, Status

log = logging.getLogger(__name__)

MAIN = "main"


class Fenced(Exception):
    """This writer may no longer write: a newer epoch took over or the session has ended."""


class Steered(Exception):
    """A guarded write was refused: the log holds a steer after the writer's steer cursor."""


STEER = "steer"


def append(
    session_id,
    events: Iterable[tuple[str, dict]],
    *,
    epoch: int | None = None,
    end: str | None = None,
    bump_epoch: bool = False,
    task_id: str | None = None,
    steers_after: int | None = None,
) -> list[LiveEvent]:
    """Append events to an active session in one transaction and return them.

    epoch:      if given, the session's epoch must equal it (else `Fenced`).
    end:        a terminal status; the session ends in the same transaction.
    bump_epoch: increment the epoch first (a claim or an authority's end).
    steers_after: if given, a `steer` event after this seq refuses the write (`Steered`).
    """
    events = list(events)
    with transaction.atomic():
        session = (
            LiveSession.objects.select_for_update()
            .only("pk", "status", "epoch", "last_seq")
            .filter(pk=session_id)
            .first()
        )
        if session is None:
            raise Fenced(f"live session {session_id} does not exist")
        if session.status != Status.ACTIVE:
            raise Fenced(f"live session {session_id} has ended ({session.status})")
        if epoch is not None and session.epoch != epoch:
            raise Fenced(f"epoch {epoch} is stale; session {session_id} is at {session.epoch}")
        if steers_after is not None and (
            LiveEvent.objects.filter(session_id=session.pk, type=STEER, seq__gt=steers_after)
            .only("seq")
            .exists()
        ):
            raise Steered(f"live session {session_id} has a steer after {steers_after}")
        now = timezone.now()
        update: dict[str, Any] = {"heartbeat_at": now, "updated_at": now}
        if bump_epoch:
            session.epoch += 1
            update["epoch"] = session.epoch
            # a claim's `started` event records the epoch it opened
            events = [(t, d | {"epoch": session.epoch} if t == "started" else d) for t, d in events]
        if task_id is not None:
            update["celery_task_id"] = task_id
        if end is not None:
            if not events or events[-1][0] != end:
                events.append((end, {}))
            update.update(status=end, finished_at=now)
        rows = [
            LiveEvent(
                session_id=session.pk, seq=session.last_seq + i, type=t, data=storable(d or {})
            )
            for i, (t, d) in enumerate(events, start=1)
        ]
        if rows:
            LiveEvent.objects.bulk_create(rows)
            update["last_seq"] = rows[-1].seq
        LiveSession.objects.filter(pk=session.pk).update(**update)
        transaction.on_commit(lambda: notify.publish(session.pk, rows, end))
    return rows


def end_session(session_id, status: str, data: dict | None = None) -> bool:
    """End an active session with its terminal event; False if it had already ended."""
    if status not in TERMINAL:
        raise ValueError(f"{status!r} is not a terminal status")
    try:
        append(session_id, [(status, data or {})], end=status, bump_epoch=True)
    except Fenced:
        return False
    return True


class LiveWriter:
    """Writes one task's events to a session under a fixed epoch. Not thread-safe."""

    def __init__(self, session_id, epoch: int, *, closed: bool = False) -> None:
        self.session_id = session_id
        self.epoch = epoch
        self.closed = closed
        self.stop_requested = closed
        self.chars: dict[str, int] = {}
        self._buffer: dict[str, list[str]] = {}
        self._buffered = 0
        self._last_flush = time.monotonic()
        self._next_flag_check = 0.0
        self._next_db_check = time.monotonic() + 2.0
        self._flush_interval = conf.flush_interval()
        self._flush_chars = conf.flush_chars()
        self.steer_cursor = 0  # steers up to this seq were taken by this writer
        self._steers_seen: int | None = None  # the Redis steer counter when last taken
        self._next_steer_flag_check = 0.0
        self._next_steer_db_check = 0.0  # the first look reads the log (a redelivery's steers)

    # ----------------------------------------------------------------- opening
    @classmethod
    def claim(cls, session_id, *, task_id: str = "") -> LiveWriter:
        """Take the session over for this delivery: bump the epoch and write `started`."""
        rows = append(session_id, [("started", {})], bump_epoch=True, task_id=task_id or None)
        return cls(session_id, rows[0].data["epoch"])

    @classmethod
    def join(cls, session_id, epoch: int) -> LiveWriter:
        """Write alongside the claiming task (e.g. a fan-out helper) under its epoch."""
        return cls(session_id, epoch)

    # ----------------------------------------------------------------- writing
    def emit(self, type: str, data: dict | None = None) -> int:
        """Append one event (after any buffered tokens) and return its seq."""
        if type in TERMINAL:
            raise ValueError("use finish() for terminal events")
        rows = self._write([(type, data or {})])
        return rows[-1].seq

    def token(self, text: str, stream: str = MAIN) -> None:
        """Buffer a text delta; written as one `token` event per stream per flush."""
        if not text:
            return
        self._buffer.setdefault(stream, []).append(text)
        self._buffered += len(text)
        self.chars[stream] = self.chars.get(stream, 0) + len(text)
        self._maybe_flush()

    def flush(self) -> None:
        """Write buffered tokens now (one transaction)."""
        if self._buffered:
            self._write([])

    def finish(
        self,
        status: str = Status.COMPLETED,
        data: dict | None = None,
        *,
        before: Iterable[tuple[str, dict]] = (),
        unless_steered: bool = False,
    ) -> bool:
        """Write `before` and the terminal event and end the session, in one transaction.
        False if it had already ended. With `unless_steered`, a steer not yet taken refuses
        it (`Steered`, nothing written, the writer stays open)."""
        if status not in TERMINAL:
            raise ValueError(f"{status!r} is not a terminal status")
        payload = {"chars": sum(self.chars.values()), **(data or {})}
        guard = self.steer_cursor if unless_steered else None
        try:
            self._write([*before, (status, payload)], end=status, steers_after=guard)
        except Fenced:
            self.closed = True
            return False
        except Steered:
            raise
        except BaseException:
            self.closed = True
            raise
        self.closed = True
        return True

    # ----------------------------------------------------------------- steering
    def steer_waiting(self) -> bool:
        """True when the log holds a steer this writer has not taken. Cheap between tokens:
        the Redis steer counter at most every 50 ms, the log at most every 2 s (and on the
        first call, so a redelivered task sees the steers sent before it)."""
        now = time.monotonic()
        if now >= self._next_steer_flag_check:
            self._next_steer_flag_check = now + 0.05
            count = notify.steer_count(self.session_id)
            if count is not None and self._steers_seen is not None and count != self._steers_seen:
                return True
        if now >= self._next_steer_db_check:
            self._next_steer_db_check = now + 2.0
            count = notify.steer_count(self.session_id)  # before the read: see take_steers
            if (
                LiveEvent.objects.filter(
                    session_id=self.session_id, type=STEER, seq__gt=self.steer_cursor
                )
                .only("seq")
                .exists()
            ):
                return True
            self._steers_seen = count
        return False

    def take_steers(self) -> list[LiveEvent]:
        """The steers after the cursor, in log order; each is returned once per writer."""
        count = notify.steer_count(self.session_id)  # read first: a later steer bumps it again
        rows = list(
            LiveEvent.objects.filter(
                session_id=self.session_id, type=STEER, seq__gt=self.steer_cursor
            ).order_by("seq")
        )
        if rows:
            self.steer_cursor = rows[-1].seq
        self._steers_seen = count
        self._next_steer_db_check = time.monotonic() + 2.0
        return rows

    # ----------------------------------------------------------------- control
    def should_stop(self) -> bool:
        """True once a stop was requested (or this writer was fenced). Cheap between tokens:
        a Redis EXISTS at most every 50 ms, a database look at most every 2 s."""
        if self.stop_requested:
            return True
        now = time.monotonic()
        if now >= self._next_flag_check:
            self._next_flag_check = now + 0.05
            if notify.stop_flag_set(self.session_id):
                self.stop_requested = True
        if not self.stop_requested and now >= self._next_db_check:
            self._next_db_check = now + 2.0
            row = (
                LiveSession.objects.filter(pk=self.session_id)
                .values("status", "epoch", "cancel_requested_at")
                .first()
            )
            if (
                row is None
                or row["cancel_requested_at"]
                or row["status"] != Status.ACTIVE
                or row["epoch"] != self.epoch
            ):
                self.stop_requested = True
        if not self.stop_requested:
            self._maybe_flush()
        return self.stop_requested

    # ----------------------------------------------------------------- internals
    def _maybe_flush(self) -> None:
        if self._buffered and (
            self._buffered >= self._flush_chars
            or time.monotonic() - self._last_flush >= self._flush_interval
        ):
            self._write([])

    def _write(
        self,
        events: list[tuple[str, dict]],
        end: str | None = None,
        steers_after: int | None = None,
    ) -> list[LiveEvent]:
        if self.closed:
            raise Fenced(f"writer for {self.session_id} is closed")
        tokens = [
            ("token", {"text": "".join(parts)} | ({} if stream == MAIN else {"stream": stream}))
            for stream, parts in self._buffer.items()
            if parts
        ]
        try:
            rows = append(
                self.session_id, tokens + events, epoch=self.epoch, end=end,
                steers_after=steers_after,
            )  # fmt: skip
        except Fenced:
            self.closed = self.stop_requested = True
            raise
        self._buffer.clear()
        self._buffered = 0
        self._last_flush = time.monotonic()
        return rows


@contextmanager
def run(session_id, *, task_id: str = "") -> Iterator[LiveWriter]:
    """Claim the session for this task delivery and end it when the block ends.

    If the session has already ended (e.g. cancelled while queued) the writer arrives closed:
    `should_stop()` is True and writes raise `Fenced`, which this block swallows.
    """
    try:
        writer = LiveWriter.claim(session_id, task_id=task_id)
    except Fenced as exc:
        log.info("live session not claimed: %s", exc)
        writer = LiveWriter(session_id, 0, closed=True)
    try:
        yield writer
    except Fenced as exc:
        log.info("live writer fenced: %s", exc)
        return
    except Exception as exc:
        if not writer.closed:
            try:
                writer.finish(Status.FAILED, {"error": _describe(exc)})
            except DatabaseError:  # the database may be what failed; the reaper will end it
                log.exception("could not record the failure of live session %s", session_id)
        raise
    if not writer.closed:
        status = Status.CANCELLED if writer.stop_requested else Status.COMPLETED
        writer.finish(status)


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text[:500]


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATES = re.compile("[\ud800-\udfff]+")


def _text(s: str) -> str:
    """A pair of surrogates is the character it encodes; NUL and lone surrogates are U+FFFD."""
    if not _UNSTORABLE.search(s):
        return s
    s = _SURROGATES.sub(
        lambda m: m[0].encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"), s
    )
    return s.replace("\x00", "\ufffd")


def storable(data: Any) -> Any:
    """`data` with every NUL and lone surrogate in its strings (keys too) replaced by U+FFFD,
    and a pair of surrogates (UTF-16 seen as two characters) joined into its character.

    PostgreSQL's jsonb cannot hold \\u0000 and UTF-8 cannot hold a lone surrogate; model output
    may contain either, and one such character must not fail the write (which would end a
    generation as failed). U+FFFD rather than dropping or escaping the character: it is
    Unicode's mark for "a character could not be represented here", which every reader shows
    as such, it takes the character's place (text around it is unchanged, nothing is glued
    together), and unlike a textual escape such as "\\u0000" it cannot be confused with text
    the model really wrote, so no reader needs to decode anything.
    """
    if isinstance(data, str):
        return _text(data)
    if isinstance(data, dict):
        return {_text(k) if isinstance(k, str) else k: storable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [storable(v) for v in data]
    return data


def encode(data: Any) -> str:
    """The one JSON encoding used for event data on the wire (stable key order, one line)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
