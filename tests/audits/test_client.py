"""The model client against the real fake server (HTTP, SSE, retries)."""

import uuid
from decimal import Decimal

import anthropic
import pytest

from audits import client
from audits.models import Model, Price
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
    # over the 1024-token minimum (the fake counts 4 characters a token)
    system = [{"type": "text", "text": "A long shared preamble " * 200 + uuid.uuid4().hex,
               "cache_control": {"type": "ephemeral"}}]  # fmt: skip
    params = {"model": "sim-claude-4", "max_tokens": 20, "system": system,
              "messages": [{"role": "user", "content": "say yes"}]}  # fmt: skip
    first = client.get_client().messages.create(**params)
    second = client.get_client().messages.create(**params)
    assert first.usage.cache_creation_input_tokens > 1024
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == first.usage.input_tokens  # only the uncached rest
    cost = client.cost_of("sim-claude-4-20260115", {"cache_read_input_tokens": 1_000_000})
    assert cost == Decimal("0.3")


def test_a_prefix_under_the_minimum_is_not_cached(fake_api, team, sim_models):
    system = [{"type": "text", "text": "A short preamble " + uuid.uuid4().hex,
               "cache_control": {"type": "ephemeral"}}]  # fmt: skip
    params = {"model": "sim-claude-4", "max_tokens": 20, "system": system,
              "messages": [{"role": "user", "content": "say yes"}]}  # fmt: skip
    for _ in range(2):
        usage = client.get_client().messages.create(**params).usage
        assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)


def test_cache_prices_default_to_1_25_and_0_1_times_the_input_price(db):
    # a price row with no cache rates of its own (as the demo seeds them)
    Price.objects.create(model_id="hand-model", input_per_mtok=3, output_per_mtok=15)
    usage = {"input_tokens": 200, "output_tokens": 100,
             "cache_creation_input_tokens": 4000, "cache_read_input_tokens": 12000}  # fmt: skip
    # by hand: 200 x 3 + 100 x 15 + 4000 x 3.75 + 12000 x 0.30 = 600 + 1500 + 15000 + 3600
    # = 20700 USD per million tokens -> $0.0207
    assert client.cost_of("hand-model-1", usage) == Decimal("0.020700")
    Price.objects.filter(model_id="hand-model").update(
        cache_write_per_mtok=Decimal(6), cache_read_per_mtok=Decimal("0.5")
    )  # a row's own rates win: 600 + 1500 + 24000 + 6000 = 32100 -> $0.0321
    assert client.cost_of("hand-model-1", usage) == Decimal("0.032100")


def test_429_then_200_honours_retry_after(fake_api, team, sim_models, monkeypatch):
    waits = []
    real = anthropic.Anthropic._calculate_retry_timeout

    def spy(self, *args, **kwargs):
        waits.append(real(self, *args, **kwargs))
        return waits[-1]

    monkeypatch.setattr(anthropic.Anthropic, "_calculate_retry_timeout", spy)
    key = uuid.uuid4().hex
    r = _call(team, {"x-fake-error": f"rate_limit;times=1;retry_after=0.2;key={key}"})
    assert r.text == "YES"
    assert waits == [0.2]  # one retry, after the wait the server asked for


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


def test_should_stop_ends_a_call_at_the_next_token(fake_api, team, sim_models):
    deltas = []
    with pytest.raises(client.Cancelled):
        _call(team, {"x-fake-latency": "0"}, prompt="LONG-ANSWER", on_text=deltas.append,
              should_stop=lambda: len(deltas) >= 3)  # fmt: skip
    assert len(deltas) == 3  # the answer has 21 tokens; none came after the stop


def test_team_concurrency_limit(fake_api, team, settings):
    settings.AUDITS_TEAM_CONCURRENCY = 2
    asked = []

    def give_up() -> bool:
        asked.append(True)
        return True

    with client.team_slot(team.pk), client.team_slot(team.pk):
        # a third caller finds no free slot
        with pytest.raises(client.Cancelled), client.team_slot(team.pk, should_stop=give_up):
            pytest.fail("a third call ran at once")
        assert asked == [True]
    with client.team_slot(team.pk, should_stop=give_up):  # released: a slot is free at once
        pass
    assert asked == [True]


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


def test_simulated_models_get_their_prices_when_discovered(fake_api, db, settings):
    """make run without a key (SIMULATED_MODELS): the fake API's models come priced, so a
    newcomer's first audit shows a cost and takes a dollar budget; with a real key, no
    simulated price is written."""
    from audits.models import Price, without_price

    settings.SIMULATED_MODELS = False
    client.sync_models(force=True)
    assert not Price.objects.filter(model_id__startswith="sim-").exists()
    settings.SIMULATED_MODELS = True
    client._simulated_priced.clear()
    client.sync_models()  # the models are fresh: the prices are seeded all the same
    assert not without_price(Model.objects.filter(retired=False)).exists()
    assert client.price_for("sim-claude-4-20260115").output_per_mtok == 15


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


def test_each_thread_has_its_own_client_and_all_share_one_ssl_context(settings):
    """An audits worker makes up to a hundred calls at once in threads: one connection pool
    each, so they never queue on a shared pool's lock; one SSL context for all of them."""
    import threading

    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"
    mine = client.get_client()
    assert client.get_client() is mine  # a thread keeps its client and its connections
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(client.get_client()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    pools = [c._client._transport._pool for c in (mine, theirs[0])]
    assert pools[0] is not pools[1]
    assert pools[0]._ssl_context is pools[1]._ssl_context is client._shared_ssl_context()
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:10"  # another configuration
    assert client.get_client() is not mine
