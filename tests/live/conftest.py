from .fixtures import asgi_server, base_url, http_for, spawn_worker  # noqa: F401
