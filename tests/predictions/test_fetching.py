"""predictions/fetching.py against a real local HTTP server: CSV and JSON sources, conditional
requests, the timeout, the size limit, changed values in the history, backoff and the failure
notice (once), private-address refusal (redirects included) and the claim under two workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from celery.signals import task_retry
from django.core import mail
from django.db import connection
from django.utils import timezone

from planning import netguard
from planning.cadences.models import Notification
from predictions import fetching, secrets
from predictions.models import MetricSource, Observation, ObservationChange, Prediction
from predictions.tasks import email_source_failure
from tests.cadences.sinks import SmtpSink
from tests.factories import MetricFactory, PredictionFactory
from tests.predictions.sourceserver import SourceServer


@pytest.fixture
def server():
    with SourceServer() as s:
        yield s


@pytest.fixture
def loopback(settings):
    settings.NETGUARD_ALLOW_LOOPBACK = True  # test-only: the sources listen on 127.0.0.1


def _source(metric, url, **fields) -> MetricSource:
    defaults = {"date_field": "date", "value_field": "score", "filter": 'model == "best"'}
    return MetricSource.objects.create(metric=metric, url=url, **{**defaults, **fields})


def _run(source) -> fetching.Outcome:
    ids, token = fetching.claim_due()
    assert source.pk in ids
    return fetching.run(source.pk, token)


@pytest.fixture
def linear_metric(team, owner):
    return MetricFactory(team=team, created_by=owner, name="SWE-bench %", unit="%", scale="linear")


def test_a_csv_source_is_saved_with_its_provenance_then_not_fetched_again_until_due(
    linear_metric, server, loopback
):
    source = _source(linear_metric, server.url("/csv"), factor=100)
    outcome = _run(source)
    assert outcome.ok and outcome.created == 2, outcome
    rows = list(Observation.objects.filter(metric=linear_metric).values_list("value", "source"))
    assert rows == [(50.0, "fetched from 127.0.0.1"), (62.5, "fetched from 127.0.0.1")]
    source.refresh_from_db()
    assert source.last_success_at and source.last_result.startswith("2 rows: 2 new")
    assert source.next_fetch_at > timezone.now() + timedelta(hours=23)
    assert source.claim_token is None
    assert fetching.claim_due()[0] == []  # nothing due now


def test_a_json_source_under_a_selector(linear_metric, server, loopback):
    source = _source(
        linear_metric, server.url("/json"), format="json", rows="data.results", date_field="day",
        value_field="v", filter="",
    )  # fmt: skip
    assert _run(source).created == 2
    assert sorted(Observation.objects.values_list("value", flat=True)) == [7.0, 9.0]


def test_a_changing_source_records_each_change_and_uses_its_etag(linear_metric, server, loopback):
    source = _source(linear_metric, server.url("/changing"), value_field="value", filter="")
    assert _run(source).created == 2
    MetricSource.objects.filter(pk=source.pk).update(next_fetch_at=timezone.now())
    outcome = _run(source)  # same ETag: the server answers 304
    assert outcome.ok and outcome.message == "Not modified since the last fetch."
    assert server.headers["/changing"]["if-none-match"]
    server.changing = "date,value\n2026-01-01,1\n2026-02-01,3\n2026-03-01,4\n"
    MetricSource.objects.filter(pk=source.pk).update(next_fetch_at=timezone.now())
    outcome = _run(source)
    assert (outcome.created, outcome.updated) == (1, 1)
    change = ObservationChange.objects.get()
    assert (change.old_value, change.new_value, change.via) == (2.0, 3.0, "source")
    assert change.changed_by is None


def test_new_values_resolve_threshold_predictions(linear_metric, owner, server, loopback):
    prediction = PredictionFactory(
        team=linear_metric.team, metric=linear_metric, author=owner, kind="threshold",
        trajectory=None, band=None, threshold_value=55, threshold_above=True, probability=0.7,
        horizon=timezone.now().date() + timedelta(days=30),
    )  # fmt: skip
    Prediction.objects.filter(pk=prediction.pk).update(
        committed_at=timezone.now() - timedelta(days=400), content_hash="0" * 64
    )
    source = _source(linear_metric, server.url("/csv"), factor=100)
    assert _run(source).ok
    prediction.refresh_from_db()
    assert prediction.resolution.outcome is True


def test_the_slow_source_times_out(linear_metric, server, loopback, settings):
    settings.SOURCE_FETCH_TIMEOUT = 0.5
    source = _source(linear_metric, server.url("/slow"))
    outcome = _run(source)
    assert not outcome.ok and "No complete answer within 0.5 s" in outcome.message
    source.refresh_from_db()
    assert source.last_error == outcome.message and source.failures == 1


def test_the_huge_source_hits_the_size_limit(linear_metric, server, loopback, settings):
    settings.SOURCE_MAX_BYTES = 10_000
    outcome = _run(_source(linear_metric, server.url("/huge")))
    assert not outcome.ok and "larger than" in outcome.message
    assert not Observation.objects.exists()


@pytest.fixture
def eager_tasks():
    """Tasks queued with .delay() run at once in this process (a Celery retry too)."""
    from planning.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_a_failing_source_backs_off_and_tells_the_owner_once(
    linear_metric, owner, server, loopback, django_capture_on_commit_callbacks, eager_tasks
):
    source = _source(linear_metric, server.url("/fail"))
    before = timezone.now()
    outcome = _run(source)
    assert not outcome.ok and outcome.message == "The source answered HTTP 500."
    source.refresh_from_db()
    assert source.failures == 1 and not outcome.notified
    first_retry = source.next_fetch_at - before
    assert timedelta(minutes=14) < first_retry < timedelta(minutes=16)
    MetricSource.objects.filter(pk=source.pk).update(next_fetch_at=timezone.now())
    _run(source)
    source.refresh_from_db()
    assert source.failures == 2 and source.next_fetch_at - timezone.now() > timedelta(minutes=29)
    assert not Notification.objects.exists()

    # Failing for three days (the setting's default): the owner hears about it, once.
    for _ in range(3):
        MetricSource.objects.filter(pk=source.pk).update(
            next_fetch_at=timezone.now(), failing_since=timezone.now() - timedelta(days=3)
        )
        with django_capture_on_commit_callbacks(execute=True):
            _run(source)
    notice = Notification.objects.get()
    assert notice.user == owner and "has failed for 3 days" in notice.text
    assert notice.url == linear_metric.get_absolute_url()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
    assert "HTTP 500" in mail.outbox[0].body
    message_id = mail.outbox[0].extra_headers["Message-ID"]
    assert message_id == f"<{notice.idempotency_key}@exponent.source>"

    # A success ends the run of failures; a later run can notify again.
    MetricSource.objects.filter(pk=source.pk).update(
        url=server.url("/csv"), next_fetch_at=timezone.now()
    )
    assert _run(source).ok
    source.refresh_from_db()
    assert (source.failures, source.failing_since, source.failure_notified_at) == (0, None, None)


@pytest.fixture
def smtp_sink(settings):
    smtp = SmtpSink()  # down until a test brings it up
    settings.MAILERS = {"default": smtp.mailer(timeout=0.5)}
    yield smtp
    smtp.down()


def test_the_failure_email_is_retried_while_the_mail_server_is_down_and_sent_once(
    linear_metric, owner, server, loopback, smtp_sink, eager_tasks,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    source = _source(linear_metric, server.url("/fail"))
    retries = []

    def mail_server_back(sender, reason, **kwargs):
        retries.append(reason)
        if len(retries) == 1:
            smtp_sink.up()

    def tick():
        MetricSource.objects.filter(pk=source.pk).update(
            next_fetch_at=timezone.now(), failing_since=timezone.now() - timedelta(days=3)
        )
        with django_capture_on_commit_callbacks(execute=True):
            return _run(source)

    task_retry.connect(mail_server_back, sender=email_source_failure)
    try:
        assert tick().notified  # the first attempt: connection refused, retried
        assert tick().notified is False  # still failing on the next tick: no second notice
    finally:
        task_retry.disconnect(mail_server_back, sender=email_source_failure)
    assert len(retries) == 1 and isinstance(retries[0].exc, ConnectionRefusedError)
    assert 0 <= retries[0].when <= 60  # the first backoff: up to a minute (jittered)
    notice = Notification.objects.get()
    assert [m["To"] for m in smtp_sink.messages] == [owner.email]
    assert smtp_sink.by_key() == {str(notice.idempotency_key): 1}
    assert "has failed for 3 days" in smtp_sink.messages[0].get_content()


def test_the_failure_email_gives_up_after_five_retries(
    linear_metric, owner, server, loopback, smtp_sink, eager_tasks,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    source = _source(linear_metric, server.url("/fail"))
    MetricSource.objects.filter(pk=source.pk).update(
        failing_since=timezone.now() - timedelta(days=3)
    )
    retries = []
    task_retry.connect(lambda sender, **kw: retries.append(1), sender=email_source_failure,
                       weak=False, dispatch_uid="count-retries")  # fmt: skip
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert _run(source).notified
    finally:
        task_retry.disconnect(sender=email_source_failure, dispatch_uid="count-retries")
    assert len(retries) == 5 and not smtp_sink.messages
    assert Notification.objects.count() == 1  # the in-app notice stands


@pytest.mark.parametrize(
    ("meanwhile", "sent"),
    [("still failing", 1), ("recovered", 0), ("recovered, then failing again", 0)],
)
def test_the_failure_email_waiting_for_the_mail_server_is_dropped_once_the_source_recovered(
    linear_metric, owner, server, loopback, smtp_sink, eager_tasks, caplog,
    django_capture_on_commit_callbacks, meanwhile, sent,
):  # fmt: skip
    """The email is queued with the notice; it runs later (a retry can come half an hour
    after). If the source fetched successfully in between, the owner is not told it fails."""
    source = _source(linear_metric, server.url("/fail"))
    MetricSource.objects.filter(pk=source.pk).update(
        failing_since=timezone.now() - timedelta(days=3)
    )
    with django_capture_on_commit_callbacks() as queued:  # not run yet: the mail is down
        assert _run(source).notified
    assert len(queued) == 1
    notice = Notification.objects.get()

    def tick(path: str) -> fetching.Outcome:
        MetricSource.objects.filter(pk=source.pk).update(
            url=server.url(path), next_fetch_at=timezone.now()
        )
        return _run(source)

    if meanwhile.startswith("recovered"):
        assert tick("/csv").ok
    if meanwhile.endswith("failing"):
        assert not tick("/fail").ok
    smtp_sink.up()
    with caplog.at_level("INFO", logger="predictions.fetching"):
        queued[0]()  # the queued task runs now, against the source as it stands
    assert smtp_sink.by_key() == ({str(notice.idempotency_key): 1} if sent else {})
    skipped = [r for r in caplog.records if "not sent: the source recovered" in r.getMessage()]
    assert len(skipped) == 1 - sent
    assert Notification.objects.count() == 1  # the in-app notice stands either way


def test_loopback_is_refused_with_the_switch_off(linear_metric, server, settings):
    settings.NETGUARD_ALLOW_LOOPBACK = False
    outcome = _run(_source(linear_metric, server.url("/csv")))
    assert not outcome.ok and "loopback" in outcome.message and "refused" in outcome.message
    assert server.hits["/csv"] == 0


def test_a_redirect_to_loopback_is_refused(linear_metric, server, settings, monkeypatch):
    """127.0.0.2 stands in for a public host; the redirect it answers goes to 127.0.0.1."""
    settings.NETGUARD_ALLOW_LOOPBACK = False
    real = netguard.refusal

    def refusal(ip, *, allow_loopback=None):
        return None if str(ip) == "127.0.0.2" else real(ip, allow_loopback=allow_loopback)

    monkeypatch.setattr(netguard, "refusal", refusal)
    with SourceServer("127.0.0.2") as public:
        public.redirect_to = server.url("/csv")
        outcome = _run(_source(linear_metric, public.url("/redirect")))
        assert public.hits["/redirect"] == 1  # the first hop was made …
    assert not outcome.ok and "127.0.0.1" in outcome.message and "refused" in outcome.message
    assert server.hits["/csv"] == 0  # … the second never connected


def test_redirects_are_followed_and_the_credential_stays_on_its_origin(
    linear_metric, server, loopback
):
    server.redirect_to = server.url("/auth")
    source = _source(
        linear_metric, server.url("/redirect"), header_name="X-Token",
        header_value_encrypted=secrets.encrypt("s3cret"),
    )  # fmt: skip
    assert "s3cret" not in source.header_value_encrypted
    assert _run(source).ok
    assert server.headers["/auth"]["x-token"] == "s3cret"
    with SourceServer() as other:  # another origin (another port): no credential for it
        server.redirect_to = other.url("/auth")
        MetricSource.objects.filter(pk=source.pk).update(next_fetch_at=timezone.now())
        outcome = _run(source)
        assert "x-token" not in other.headers["/auth"]
    assert outcome.message == "The source answered HTTP 401."


def test_a_credential_under_another_secret_key_asks_to_be_entered_again(settings):
    token = secrets.encrypt("value")
    assert secrets.decrypt(token) == "value"
    settings.SECRET_KEY = "another-key-" + "x" * 40
    assert secrets.decrypt(token) is None


def test_a_lost_claim_records_nothing(linear_metric, server, loopback):
    source = _source(linear_metric, server.url("/csv"), factor=100)
    ids, token = fetching.claim_due()
    MetricSource.objects.filter(pk=source.pk).update(claim_token=None)  # another tick took it
    assert fetching.run(source.pk, token).lost_claim
    assert not Observation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_each_due_source_is_fetched_once_under_two_workers(team, owner, server, loopback):
    """Two workers claim on the same tick at the same moment: disjoint sets, every due source
    fetched exactly once."""
    sources = []
    for i in range(12):
        metric = MetricFactory(team=team, created_by=owner, name=f"m{i}", unit="%", scale="linear")
        sources.append(_source(metric, server.url(f"/csv/{i}"), factor=100))
    barrier = threading.Barrier(2)
    claimed: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait(10)
            ids, token = fetching.claim_due(batch=8)
            claimed[n] = ids
            for pk in ids:
                fetching.run(pk, token)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert not set(claimed[0]) & set(claimed[1])
    left, token = fetching.claim_due()  # what a batch limit left for the next tick
    for pk in left:
        fetching.run(pk, token)
    assert sorted(claimed[0] + claimed[1] + left) == sorted(s.pk for s in sources)
    assert all(server.hits[f"/csv/{i}"] == 1 for i in range(12)), server.hits
    assert Observation.objects.count() == 24
    assert fetching.claim_due()[0] == []


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://example.com/x.csv", "Only http:// and https://"),
        ("http://[::1/x", "not a valid URL"),
        ("http://127.0.0.1:99999/x", "not a valid URL"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("/redirect", "More than 5 redirects"),
    ],
)
def test_hostile_redirects_fail_cleanly(server, loopback, location, message):
    server.redirect_to = location
    with pytest.raises(fetching.FetchError, match=message.replace("/", "/")):
        fetching.fetch(server.url("/redirect"))


def test_a_closed_port_is_a_clean_error(loopback):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once it is closed
    with pytest.raises(fetching.FetchError, match="Could not connect to 127.0.0.1"):
        fetching.fetch(f"http://127.0.0.1:{port}/x.csv")
