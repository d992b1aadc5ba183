import pytest
from django.utils import timezone

from planning.teams.models import Invitation
from planning.teams.tasks import send_invitation_email
from tests.conftest import wait_for
from tests.factories import InvitationFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_real_task_through_real_worker_writes_postgres(celery_worker_process):
    invitation = InvitationFactory()
    assert invitation.sent_at is None
    send_invitation_email.delay(invitation.pk)
    sent = wait_for(lambda: Invitation.objects.get(pk=invitation.pk).sent_at, timeout=30)
    assert sent is not None and sent <= timezone.now()


def test_healthz_all_green_with_worker(health_client, celery_worker_process):
    response = health_client.get("/healthz")
    data = response.json()
    assert response.status_code == 200, data
    assert data["database"]["ok"] and data["broker"]["ok"] and data["worker"]["ok"]
    assert celery_worker_process.hostname in data["worker"]["workers"]


def test_healthz_503_when_no_worker_answers(health_client, monkeypatch):
    from planning.celery import app

    monkeypatch.setattr(app.control, "ping", lambda **kwargs: [])
    response = health_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"]["ok"] is False
    assert response.json()["database"]["ok"] is True


def test_healthz_shows_only_the_status_to_the_public(client, health_client, monkeypatch):
    from planning.celery import app

    monkeypatch.setattr(app.control, "ping", lambda **kwargs: [{"w@secret-host": {"ok": "pong"}}])
    public = client.get("/healthz")
    assert public.status_code == 200 and public.json() == {"status": "ok"}
    wrong = client.get("/healthz", headers={"Authorization": "Bearer nope"})
    assert wrong.json() == {"status": "ok"}
    detail = health_client.get("/healthz").json()
    assert detail["worker"]["workers"] == ["w@secret-host"]


def test_healthz_detail_for_staff(client, monkeypatch):
    from planning.celery import app
    from tests.factories import UserFactory

    monkeypatch.setattr(app.control, "ping", lambda **kwargs: [])
    client.force_login(UserFactory(is_staff=True))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"]["ok"] is False
