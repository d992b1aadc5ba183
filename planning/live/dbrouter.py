"""Reads of the live layer's async views go through a small pooled connection.

Every new SSE subscriber needs a few short reads (its login session, its membership, the
session's log). Opening a PostgreSQL connection for each costs more than the reads (a
process fork on the server), and a reconnect storm after a deploy opens a thousand at once.
Inside `live_reads()` the router sends every read to the `live` alias: the same database
through psycopg's pool (see `LIVE_DB_POOL` in settings), so a storm shares a handful of
connections and an idle server gives them back after `max_idle` seconds. Writes (none on
this path, except Django flushing an invalid login session) stay on `default`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django.conf import settings

ALIAS = "live"
_active: contextvars.ContextVar[bool] = contextvars.ContextVar("live_reads", default=False)


@contextlib.contextmanager
def live_reads() -> Iterator[None]:
    token = _active.set(ALIAS in settings.DATABASES)
    try:
        yield
    finally:
        _active.reset(token)


class LiveReadRouter:
    def db_for_read(self, model, **hints):
        return ALIAS if _active.get() else None

    def db_for_write(self, model, **hints):
        return None

    def allow_relation(self, obj1, obj2, **hints):
        return True if {obj1._state.db, obj2._state.db} <= {ALIAS, "default"} else None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == ALIAS else None
