"""The ASGI application: Django, with one endpoint answered in front of it.

GET /live/<id>/events (server-sent events) is answered by `planning.live.views.events_asgi`
without Django's middleware stack, by the same rules as the Django view (login session cookie,
membership of the session's team: else 404), so that a reconnect storm after a deploy opens a
thousand streams a second; `fast_path` hands Django every other request, and any events
request Django would refuse or redirect first (unknown Host, plain HTTP under
SECURE_SSL_REDIRECT).
"""

import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planning.settings")
# whitenoise serves files through a synchronous iterator; that is fine for static files.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous")

django_application = get_asgi_application()

from planning.live.views import events_asgi, fast_path  # noqa: E402 - needs django.setup()


async def application(scope, receive, send) -> None:
    session_id = fast_path(scope)
    if session_id is not None:
        await events_asgi(scope, receive, send, session_id)
    else:
        await django_application(scope, receive, send)
