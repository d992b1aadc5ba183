"""Opening a stream: the same rules whether planning.asgi answers it in front of Django (as it
does for GET /live/<id>/events) or the Django view does, and at the cost of a few queries for a
whole burst of subscribers, not a few each."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from django.contrib.sessions.models import Session
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from planning.live import services
from planning.live.access import StreamRequest, authorise_streams
from planning.live.hub import Hub
from planning.live.views import _Lease, _stream
from planning.live.writer import LiveWriter
from planning.teams.models import Membership
from tests.factories import MembershipFactory

from .test_hub import in_own_loop, until

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "live"])]


@pytest.fixture(autouse=True)
def _close_live_pool():
    yield
    connections["live"].close_pool()  # its connections would keep the test database busy


def login(user) -> str:
    """A fresh login session of `user`: its session key (the cookie's value)."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def logged_out(user) -> str:
    """The cookie of a session that logged out (Django deleted it)."""
    client = Client()
    client.force_login(user)
    key = client.cookies["sessionid"].value
    client.logout()
    return key


def password_changed(user) -> str:
    """The cookie of a session from before the user's password changed."""
    key = login(user)
    user.set_password("a different password 42")
    user.save()
    return key


def deactivated(user) -> str:
    key = login(user)
    user.is_active = False
    user.save()
    return key


REFUSED = {
    "no cookie": lambda user: None,
    "not a session key": lambda user: "x" * 32,
    "logged out": logged_out,
    "password changed since": password_changed,
    "deactivated user": deactivated,
}


@pytest.fixture
def live(team):
    session = services.create_session(team, kind="t")
    LiveWriter.claim(session.pk).emit("progress", {"done": 1})
    return session


# --------------------------------------------------------------------------- the rules, over HTTP
def get_events(base_url: str, session_id, key: str | None, **kwargs) -> httpx.Response:
    cookies = {"sessionid": key} if key else {}
    with (
        httpx.Client(base_url=base_url, cookies=cookies, timeout=20) as client,
        client.stream("GET", f"/live/{session_id}/events", **kwargs) as response,
    ):
        if response.status_code == 200:
            for line in response.iter_lines():
                if line.startswith("id: "):
                    break  # the first event: enough
        else:
            response.read()
        return response


@pytest.mark.parametrize("how", list(REFUSED))
def test_a_subscriber_not_logged_in_is_refused_like_an_outsider(live, editor, base_url, how):
    response = get_events(base_url, live.pk, REFUSED[how](editor))
    assert response.status_code == 404
    assert b"progress" not in response.content


def test_another_teams_session_is_404_and_a_member_gets_the_stream(
    live, editor, viewer, outsider, base_url
):
    assert get_events(base_url, live.pk, login(outsider)).status_code == 404
    other = services.create_session(Membership.objects.get(user=outsider).team, kind="t")
    assert get_events(base_url, other.pk, login(editor)).status_code == 404
    for member in (editor, viewer):
        response = get_events(base_url, live.pk, login(member))
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"  # as Django sends it


def test_what_django_would_refuse_first_is_left_to_django(live, editor, base_url):
    key = login(editor)
    # A Host outside ALLOWED_HOSTS: Django's DisallowedHost, not a stream.
    assert get_events(base_url, live.pk, key, headers={"Host": "evil.example"}).status_code == 400
    with httpx.Client(base_url=base_url, cookies={"sessionid": key}) as client:
        assert client.post(f"/live/{live.pk}/events").status_code == 405
        assert client.get(f"/live/{str(live.pk).upper()}/events").status_code == 404  # no route


# --------------------------------------------------------------------------- one batch, few queries
def test_a_burst_of_subscribers_is_authorised_in_a_few_queries(
    live, team, editor, viewer, outsider
):
    other = services.create_session(Membership.objects.get(user=outsider).team, kind="t")
    sid, other_sid = str(live.pk), str(other.pk)
    member_keys = [login(editor) for _ in range(20)] + [login(viewer) for _ in range(20)]
    # each refused login of a member of the team (users of their own: two change the user)
    refused = [make(MembershipFactory(team=team).user) for make in REFUSED.values()]
    refused.append(login(outsider))
    requests = [StreamRequest(k, sid, cursor=0, read=True) for k in member_keys]
    requests += [StreamRequest(k, sid, cursor=1, read=True) for k in member_keys[:5]]
    requests += [StreamRequest(k, sid, read=True) for k in refused]
    requests += [StreamRequest(member_keys[0], other_sid, read=True)]  # another team's session
    requests += [StreamRequest(member_keys[0], "00000000-0000-0000-0000-000000000000")]

    with CaptureQueriesContext(connection) as burst:
        grants = authorise_streams(requests)
    with CaptureQueriesContext(connection) as one:
        [alone] = authorise_streams([StreamRequest(member_keys[0], sid, read=True)])

    # login sessions, users, live sessions, memberships, the log: whatever the burst's size
    assert len(burst) == len(one) == 5, [q["sql"] for q in burst]
    assert [g is not None for g in grants] == [True] * 45 + [False] * (len(refused) + 2)
    assert alone is not None and grants[0] == alone
    assert [f.seq for f in alone.frames or []] == [1, 2]
    assert alone.state["last_seq"] == 2 and alone.team_id == team.pk
    assert {g.user_id for g in grants[:45] if g} == {editor.pk, viewer.pk}


# --------------------------------------------------------------------------- while it is open
class Opened:
    def __init__(self, hub: Hub, session, key: str) -> None:
        self.hub, self.session, self.key = hub, session, key
        self.chunks: list[bytes] = []
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        watch = await self.hub.watch(self.session.pk)
        stream = _stream(self.hub, _Lease(self.hub, watch), 0, self.key)
        self.task = asyncio.create_task(self._consume(stream))

    async def _consume(self, stream) -> None:
        async for chunk in stream:
            self.chunks.append(chunk)


@pytest.mark.parametrize("change", ["logs out", "leaves the team"])
def test_an_open_stream_ends_when_its_user_logs_out_or_leaves_the_team(
    live, editor, settings, change
):
    settings.LIVE_SSE_HEARTBEAT = 0.05
    settings.LIVE_SSE_RECHECK = 0  # every tick of the hub's clock
    key = login(editor)

    @in_own_loop
    async def run() -> list[bytes]:
        hub = Hub()
        stream = Opened(hub, live, key)
        try:
            await stream.start()
            await until(lambda: b": ping\n\n" in b"".join(stream.chunks))  # re-checked once
            assert not stream.task.done()
            if change == "logs out":
                await asyncio.to_thread(lambda: Session.objects.filter(pk=key).delete())
            else:
                await asyncio.to_thread(lambda: Membership.objects.filter(user=editor).delete())
            await asyncio.wait_for(stream.task, 15)
            return stream.chunks
        finally:
            if stream.task is not None:
                stream.task.cancel()
            await hub.aclose()

    frames = b"".join(run()).removesuffix(b"\n\n").split(b"\n\n")
    assert frames[-1].startswith(b"event: end\n") and b'"forbidden"' in frames[-1]
    assert sum(f.startswith(b"id: ") for f in frames) == 2  # both events, before it ended


def test_the_django_view_answers_by_the_same_rules(team, editor, outsider):
    """GET /live/<id>/events reaches the Django view only when planning.asgi leaves it to
    Django; the view opens the stream the same way."""
    session = services.create_session(team, kind="t")
    writer = LiveWriter.claim(session.pk)
    writer.emit("progress", {"done": 1})
    writer.finish()
    member, other = login(editor), login(outsider)

    @in_own_loop
    async def run() -> list[httpx.Response]:
        from planning.asgi import django_application
        from planning.live.hub import get_hub

        transport = httpx.ASGITransport(app=django_application)

        async def get(key: str | None) -> httpx.Response:
            cookies = {"sessionid": key} if key else {}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1", cookies=cookies
            ) as client:
                return await client.get(f"/live/{session.pk}/events")  # ends: the session did

        try:
            return [await get(member), await get(other), await get(None)]
        finally:
            await get_hub().aclose()

    ok, outsider_answer, anonymous = run()
    assert ok.status_code == 200 and ok.headers["content-type"] == "text/event-stream"
    assert [line for line in ok.text.splitlines() if line.startswith("id: ")] == [
        "id: 1",
        "id: 2",
        "id: 3",
    ]
    assert "event: end" in ok.text
    assert outsider_answer.status_code == anonymous.status_code == 404
