"""The model client against the real fake server (HTTP, SSE, retries)."""

import time
import uuid
from decimal import Decimal

import pytest

from audits import client
from audits.models import Model
from audits.simulated import Rules

pytestmark = pytest.mark.django_db


def _call(team, headers=None, prompt="say yes", **kw):
    return client.call(team_id=team.pk, model="sim-claude-4", messages=[
        {"role": "user", "content": prompt}], extra_headers=headers, **kw)  # fmt: skip


def test_streams_text_usage_cost_and_resolved_model(fake_api, team, sim_models):
    deltas = []
    r = _call(team, prompt="LONG-ANSWER", on_text=deltas.append)
    assert r.text.startswith("One two three") and r.text.endswith("YES.")
    assert len(deltas) > 5 and "".join(deltas) == r.text
    assert r.model == "sim-claude-4-20260115"  # the alias resolved
    assert r.output_tokens == len(deltas) and r.input_tokens > 0
    expected = (Decimal(3) * r.input_tokens + Decimal(15) * r.output_tokens) / 1_000_000
    assert r.cost_usd == expected.quantize(Decimal("0.000001"))


def test_cache_tokens_are_reported_and_priced(fake_api, team, sim_models):
    system = [{"type": "text", "text": "A long shared preamble " * 40 + uuid.uuid4().hex,
               "cache_control": {"type": "ephemeral"}}]  # fmt: skip
    params = {"model": "sim-claude-4", "max_tokens": 20, "system": system,
              "messages": [{"role": "user", "content": "say yes"}]}  # fmt: skip
    first = client.get_client().messages.create(**params)
    second = client.get_client().messages.create(**params)
    assert first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    cost = client.cost_of("sim-claude-4-20260115", {"cache_read_input_tokens": 1_000_000})
    assert cost == Decimal("0.3")


def test_429_then_200_honours_retry_after(fake_api, team, sim_models):
    key = uuid.uuid4().hex
    started = time.monotonic()
    r = _call(team, {"x-fake-error": f"rate_limit;times=1;retry_after=0.6;key={key}"})
    assert r.text == "YES"
    assert time.monotonic() - started >= 0.6  # waited as the server asked


def test_529_overloaded_is_retried_by_the_sdk(fake_api, team, sim_models):
    key = uuid.uuid4().hex
    r = _call(team, {"x-fake-error": f"overloaded;times=2;retry_after=0.05;key={key}"})
    assert r.text == "YES"


def test_persistent_529_gives_a_grouped_error(fake_api, team, sim_models, settings):
    settings.AUDITS_MAX_RETRIES = 1
    key = uuid.uuid4().hex
    with pytest.raises(client.CallError) as exc:
        _call(team, {"x-fake-error": f"overloaded;times=99;retry_after=0.05;key={key}"})
    assert exc.value.kind == "overloaded"


def test_500_is_retried(fake_api, team, sim_models):
    key = uuid.uuid4().hex
    assert _call(team, {"x-fake-error": f"server;times=1;retry_after=0.05;key={key}"}).text == "YES"


def test_mid_stream_error_is_retried_by_the_app(fake_api, team, sim_models):
    key = uuid.uuid4().hex
    deltas, restarts = [], []
    r = _call(team, {"x-fake-error": f"mid_stream;times=1;key={key}"}, prompt="LONG-ANSWER",
              on_text=deltas.append, on_restart=restarts.append)  # fmt: skip
    assert r.attempts == 2 and restarts == [1]
    assert r.text.endswith("YES.")
    # the abandoned attempt's tokens are billed and counted
    assert r.input_tokens == 2 * client.call(team_id=team.pk, model="sim-claude-4", messages=[
        {"role": "user", "content": "LONG-ANSWER"}]).input_tokens  # fmt: skip


def test_mid_stream_error_gives_up_after_the_app_retries(fake_api, team, sim_models):
    key = uuid.uuid4().hex
    with pytest.raises(client.CallError) as exc:
        _call(team, {"x-fake-error": f"mid_stream;times=9;key={key}"}, prompt="LONG-ANSWER",
              stream_retries=1)  # fmt: skip
    assert exc.value.kind.startswith("mid_stream")


def test_should_stop_ends_a_call_promptly(fake_api, team, sim_models):
    started = time.monotonic()
    with pytest.raises(client.Cancelled):
        _call(team, {"x-fake-latency": "0"}, prompt="LONG-ANSWER",
              should_stop=lambda: time.monotonic() - started > 0.001)  # fmt: skip


def test_team_concurrency_limit(fake_api, team, settings):
    import threading

    settings.AUDITS_TEAM_CONCURRENCY = 2
    inside, peak, lock = [0], [0], threading.Lock()

    def worker():
        with client.team_slot(team.pk):
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.1)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


def test_models_discovery_cached_retired_and_alias(fake_api, db):
    Model.objects.create(model_id="sim-claude-1-20230301")  # no longer listed
    active = client.sync_models(force=True)
    assert [m.model_id for m in active] == [
        "sim-claude-4-20260115",
        "sim-claude-3-20250610",
        "sim-claude-2-20240901",
    ]
    assert Model.objects.get(model_id="sim-claude-1-20230301").retired
    assert Model.objects.get(model_id="sim-claude-2-20240901").lifecycle == "deprecated"
    alias = client.register_model("sim-claude-latest")
    assert alias.is_alias and alias.resolves_to == "sim-claude-4-20260115"


def test_retired_model_is_not_found(fake_api, team):
    with pytest.raises(client.CallError) as exc:
        client.call(team_id=team.pk, model="sim-claude-1-20230301",
                    messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert exc.value.kind == "not_found"


def test_rules_script_newer_model_passes():
    rules = Rules.load()
    prompt = "Please extract the parties and the term as JSON"
    assert rules.respond("sim-claude-4", prompt).startswith("{")
    assert not rules.respond("sim-claude-3", prompt).startswith("{")
