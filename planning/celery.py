"""The Celery application. Configuration lives in Django settings under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planning.settings")


def _reuse_redis_clients() -> None:
    """kombu's Redis channel builds a new redis.Redis object for each command it sends without
    a client at hand (every publish, every message taken and every ack: about 0.2 ms of CPU
    each, most of it copying the response-callback table). The client is only a handle on the
    channel's connection pool and is safe to share between threads, so each channel keeps
    one, made again if the channel's pool changes (after a reconnection)."""
    try:
        from kombu.transport import redis as transport
    except ImportError:  # no Redis transport installed: nothing to do
        return
    create = getattr(transport.Channel, "_create_client", None)
    if create is None or getattr(create, "reuses", False):
        return

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return create(self, asynchronous=True)
        client = self.__dict__.get("_exponent_client")
        if client is None or client.connection_pool is not self.pool:
            client = self.__dict__["_exponent_client"] = create(self)
        return client

    _create_client.reuses = True  # type: ignore[attr-defined]  # a marker on the function
    setattr(transport.Channel, "_create_client", _create_client)  # noqa: B010 - private


_reuse_redis_clients()

app = Celery("exponent")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
