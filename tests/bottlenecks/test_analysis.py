"""The Amdahl maths against hand-computed values (no database)."""

import math

import pytest

from planning.bottlenecks import analysis as a
from planning.bottlenecks.analysis import CycleError, StageInput

approx = pytest.approx


# --------------------------------------------------------------------------- serial formulas
def test_the_classic_example_p_095_s_100():
    # 1 / (0.05 + 0.95/100) = 1 / 0.0595
    assert round(a.amdahl(0.95, 100), 2) == 16.81


def test_infinite_speedup_hits_the_ceiling_of_the_serial_part():
    assert a.amdahl(0.95, math.inf) == approx(20.0)
    assert a.amdahl(0.95, 1e12) == approx(20.0)
    assert a.amdahl(1.0, math.inf) == math.inf


def test_a_slower_stage_makes_the_whole_slower():
    # Half the time gets twice as slow: 1 / (0.5 + 0.5/0.5) = 2/3.
    assert a.amdahl(0.5, 0.5) == approx(2 / 3)


def test_one_stage_speedup_is_its_own():
    assert a.serial_speedup([(1.0, 4.0)]) == approx(4.0)


PARTS = [(0.2, 1.0), (0.5, 10.0), (0.3, 2.0)]  # Σ p/s = 0.2 + 0.05 + 0.15 = 0.4


def test_serial_speedup_shares_and_bottleneck():
    assert a.serial_speedup(PARTS) == approx(2.5)
    assert a.new_shares(PARTS) == approx([0.5, 0.125, 0.375])
    assert sum(a.new_shares(PARTS)) == approx(1.0)
    assert a.bottleneck_index(PARTS) == 0


def test_ceiling_if_a_stage_became_instant():
    assert a.ceiling(PARTS, 0) == approx(1 / 0.2)  # 5
    assert a.ceiling(PARTS, 1) == approx(1 / 0.35)  # 2.857
    assert a.ceiling(PARTS, 2) == approx(1 / 0.25)  # 4


def test_marginal_leverage_is_s_squared_p_over_s_squared():
    assert a.leverage(PARTS, 0) == approx(6.25 * 0.2 / 1)  # 1.25
    assert a.leverage(PARTS, 1) == approx(6.25 * 0.5 / 100)  # 0.03125
    assert a.leverage(PARTS, 2) == approx(6.25 * 0.3 / 4)  # 0.46875
    # … and it is the derivative: compare with a finite difference.
    h = 1e-6
    bumped = [(p, s + h if i == 2 else s) for i, (p, s) in enumerate(PARTS)]
    assert (a.serial_speedup(bumped) - a.serial_speedup(PARTS)) / h == approx(0.46875, rel=1e-4)


def test_what_if_k_times_more_on_one_stage():
    assert a.what_if(PARTS, 1, 2) == approx(1 / 0.375)  # 0.2 + 0.025 + 0.15
    assert a.what_if(PARTS, 0, 2) == approx(1 / 0.3)  # 0.1 + 0.05 + 0.15
    assert a.what_if(PARTS, 0, 1) == approx(a.serial_speedup(PARTS))


def test_zero_time_stages_weigh_nothing():
    parts = [(0.0, 5.0), (1.0, 2.0), (0.0, 0.5)]
    assert a.serial_speedup(parts) == approx(2.0)
    assert a.new_shares(parts) == [0.0, 1.0, 0.0]
    assert a.bottleneck_index(parts) == 1
    assert a.leverage(parts, 0) == 0.0
    assert a.ceiling(parts, 0) == approx(2.0)


def test_nothing_to_speed_up():
    assert a.bottleneck_index([(0.0, 1.0)]) is None
    assert a.leverage([(1.0, math.inf)], 0) == 0.0


def test_speedups_must_be_positive():
    with pytest.raises(ValueError):
        a.serial_speedup([(1.0, 0.0)])
    with pytest.raises(ValueError):
        StageInput("x", "x", 1, 1, speedup_active=-2)
    with pytest.raises(ValueError):
        StageInput("x", "x", -1, 1)


def test_gustafson_scaled_speedup():
    assert a.gustafson(0.9, 10) == approx(9.1)  # 0.1 + 0.9·10
    assert a.gustafson(0.0, 10) == approx(1.0)
    assert a.scaled_speedup([(0.1, 1), (0.9, 10)]) == approx(9.1)


# --------------------------------------------------------------------------- stages, serial
SERIAL = [
    StageInput("A", "Build", active=6, waiting=4, speedup_active=3),  # 2 + 4 = 6 h after
    StageInput("B", "Test", active=10, waiting=0, speedup_active=10),  # 1 h after
    StageInput("C", "Nothing", active=0, waiting=0, speedup_active=5),  # 0 h
]


def test_stage_times_after():
    assert SERIAL[0].after == approx(6.0)
    assert SERIAL[0].speedup == approx(10 / 6)
    assert SERIAL[2].speedup == 1.0
    assert StageInput("x", "x", 2, 0, speedup_active=math.inf).after == 0.0


def test_serial_analysis_matches_the_formula():
    result = a.analyse(SERIAL)
    assert result.serial
    assert result.edges == [("A", "B"), ("B", "C")]
    assert result.t_before == approx(20.0)
    assert result.t_after == approx(7.0)
    assert result.speedup == approx(20 / 7)
    assert result.speedup == approx(a.serial_speedup(a.stage_parts(SERIAL)))
    assert result.bottleneck.key == "A"
    assert result.by_key["A"].share_after == approx(6 / 7)
    assert result.by_key["C"].share_after == 0.0
    # ceiling if Build were instant: 20 / 1
    assert result.by_key["A"].ceiling == approx(20.0)
    # leverage S²·p/s² for A: p = 10/20, s = 10/6
    assert result.by_key["A"].leverage == approx((20 / 7) ** 2 * 0.5 / (10 / 6) ** 2)
    assert result.flow_efficiency_before == approx(16 / 20)
    assert result.flow_efficiency_after == approx(3 / 7)
    # Gustafson over the parts: 6/20·3 + 4/20·1 + 10/20·10 = 0.9 + 0.2 + 5
    assert result.scaled_speedup == approx(6.1)


def test_doubling_speeds_up_active_work_only_and_halving_waiting_is_its_own_lever():
    result = a.analyse(SERIAL)
    # After today: A = 2 active + 4 waiting, B = 1, total 7 h (from 20 h).
    # A's work twice as fast: 1 + 4 + 1 = 6 h → 20/6; its queue untouched.
    assert result.by_key["A"].doubled == approx(20 / 6)
    assert result.by_key["A"].gain == approx((20 / 6) / (20 / 7) - 1)
    # Halving A's waiting: 2 + 2 + 1 = 5 h → 4×.
    assert result.by_key["A"].waiting_halved == approx(4.0)
    # B's work twice as fast: 6 + 0.5 → 20/6.5; B never waits, so it has no waiting lever.
    assert result.by_key["B"].doubled == approx(20 / 6.5)
    levers = [(v.key, v.kind) for v in result.ranking]
    assert levers == [("A", "waiting"), ("A", "active"), ("B", "active")]  # C takes no time
    assert [v.speedup for v in result.ranking] == approx([4.0, 20 / 6, 20 / 6.5])
    assert result.ranking[0].label == "Halve its waiting time"
    assert result.ranking[1].label == "Make its work twice as fast"


def test_a_map_with_half_its_time_waiting():
    # 24 h, 12 of them waiting. X is mostly work, Y mostly queue.
    stages = [
        StageInput("X", "Coding", active=8, waiting=2),
        StageInput("Y", "Approval", active=4, waiting=10),
    ]
    result = a.analyse(stages)
    assert sum(s.waiting for s in stages) == approx(result.t_before / 2)
    # "Twice as fast" is AI speeding up the work: X saves 4 h, Y only 2 h. (Doubling the
    # queue too would have saved Y 7 h and named it first.)
    active = [v for v in result.ranking if v.kind == "active"]
    assert [v.key for v in active] == ["X", "Y"]
    assert active[0].speedup == approx(24 / 20)
    assert active[1].speedup == approx(24 / 22)
    # Halving Y's waiting is the best single lever, and it is named as such.
    assert [(v.key, v.kind) for v in result.ranking] == [
        ("Y", "waiting"),
        ("X", "active"),
        ("Y", "active"),
        ("X", "waiting"),
    ]
    assert result.ranking[0].speedup == approx(24 / 19)
    assert [(v.key, v.kind) for v in result.stage_ranking] == [("Y", "waiting"), ("X", "active")]


def test_an_empty_map_has_no_bottleneck():
    result = a.analyse([StageInput("x", "x", 0, 0)])
    assert result.speedup == 1.0
    assert result.bottleneck is None
    assert a.analyse([]).speedup == 1.0


def test_details_can_be_skipped():
    result = a.analyse(SERIAL, details=False)
    assert result.speedup == approx(20 / 7)
    assert result.bottleneck.key == "A"
    assert math.isnan(result.by_key["A"].ceiling)


# --------------------------------------------------------------------------- DAG
def test_critical_path_forward_and_backward_pass():
    # a(3) → b(2) → d(4); a → c(5) → d. Path a-c-d = 12; b has slack 3.
    durations = {"a": 3, "b": 2, "c": 5, "d": 4}
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    s = a.critical_path(durations, edges)
    assert s.makespan == 12
    assert s.path == ["a", "c", "d"]
    assert s.critical == {"a", "c", "d"}
    b = s.timings["b"]
    assert (b.es, b.ef, b.ls, b.lf, b.slack) == (3, 5, 6, 8, 3)
    d = s.timings["d"]
    assert (d.es, d.ef, d.ls, d.lf, d.slack) == (8, 12, 8, 12, 0)


def test_parallel_starts_and_independent_chains():
    s = a.critical_path({"x": 1, "y": 5, "z": 2}, [("x", "z")])
    assert s.makespan == 5
    assert s.path == ["y"]
    assert s.timings["z"].slack == 2


# The example: spec → codegen → review → {QA ∥ security} → deploy.
DELIVERY = [
    StageInput("spec", "Spec", 3, 2, speedup_active=2),  # 5 → 3.5
    StageInput("code", "Codegen", 16, 2, speedup_active=10),  # 18 → 3.6
    StageInput("review", "Review", 3, 6, speedup_active=0.75),  # 9 → 10 (slower)
    StageInput("qa", "QA", 8, 4, speedup_active=4),  # 12 → 6
    StageInput("sec", "Security", 3, 8),  # 11 → 11
    StageInput("deploy", "Deploy", 1, 2, speedup_active=2),  # 3 → 2.5
]
DELIVERY_EDGES = [
    ("spec", "code"),
    ("code", "review"),
    ("review", "qa"),
    ("review", "sec"),
    ("qa", "deploy"),
    ("sec", "deploy"),
]


def test_the_critical_path_moves_from_qa_to_security():
    result = a.analyse(DELIVERY, DELIVERY_EDGES)
    assert not result.serial
    # Before: 5 + 18 + 9 + max(12, 11) + 3 = 47; after: 3.5 + 3.6 + 10 + max(6, 11) + 2.5 = 30.6.
    assert result.t_before == approx(47.0)
    assert result.t_after == approx(30.6)
    assert result.speedup == approx(47 / 30.6)
    assert result.before.path == ["spec", "code", "review", "qa", "deploy"]
    assert result.after.path == ["spec", "code", "review", "sec", "deploy"]
    assert result.moved_on == ["sec"]
    assert result.moved_off == ["qa"]
    assert result.before.timings["sec"].slack == approx(1.0)
    assert result.after.timings["qa"].slack == approx(5.0)
    qa = result.after.timings["qa"]
    assert (qa.es, qa.ef, qa.ls, qa.lf) == (approx(17.1), approx(23.1), approx(22.1), approx(28.1))
    assert result.bottleneck_before.key == "code"  # 18 of 47 h
    assert result.bottleneck.key == "sec"  # 11 of 30.6 h
    assert result.by_key["sec"].share_after == approx(11 / 30.6)
    assert result.by_key["qa"].share_after == 0.0  # off the critical path
    # Flow efficiency: active hours on the critical path over its length.
    assert result.flow_efficiency_before == approx((3 + 16 + 3 + 8 + 1) / 47)
    assert result.flow_efficiency_after == approx((1.5 + 1.6 + 4 + 3 + 0.5) / 30.6)


def test_speeding_up_only_qa_hands_the_path_to_security():
    only_qa = [StageInput(s.key, s.name, s.active, s.waiting) for s in DELIVERY]
    only_qa[3] = StageInput("qa", "QA", 8, 4, speedup_active=4)
    result = a.analyse(only_qa, DELIVERY_EDGES)
    assert "qa" in result.before.path
    assert "sec" in result.after.path and "qa" not in result.after.path
    assert result.speedup == approx(47 / 46)  # QA saved 6 h, but security was only 1 h behind


def test_dag_ceiling_leverage_and_ranking():
    result = a.analyse(DELIVERY, DELIVERY_EDGES)
    # Security instant: QA takes over: 3.5 + 3.6 + 10 + 6 + 2.5 = 25.6.
    assert result.by_key["sec"].ceiling == approx(47 / 25.6)
    # Review instant: 3.5 + 3.6 + 0 + 11 + 2.5 = 20.6.
    assert result.by_key["review"].ceiling == approx(47 / 20.6)
    # Off the critical path, QA gives nothing at the margin and nothing when doubled.
    assert result.by_key["qa"].leverage == 0.0
    assert result.by_key["qa"].gain == approx(0.0)
    assert result.by_key["sec"].leverage == approx(result.speedup**2 * (11 / 47))
    ranking = [(v.key, v.kind) for v in result.ranking]
    # Security's 8 h queue halved: 3 + 4 = 7 h, and QA (6 h) stays behind it: 26.6 h.
    # Review's 6 h queue halved: 27.6 h; its work twice as fast: 28.6 h; security's: 29.1 h.
    assert ranking[:4] == [("sec", "waiting"), ("review", "waiting"), ("review", "active"),
                           ("sec", "active")]  # fmt: skip
    assert result.ranking[0].speedup == approx(47 / 26.6)
    assert result.by_key["sec"].doubled == approx(47 / 29.1)
    assert {k for k, _ in ranking[-2:]} == {"qa"}  # off the critical path: no gain
    assert result.by_key["code"].doubled == approx(47 / 29.8)


def test_ceiling_curve_rises_to_the_ceiling():
    ys = a.ceiling_curve(DELIVERY, DELIVERY_EDGES, "sec", [1, 2, 1e9])
    assert ys[0] == approx(47 / 30.6)
    assert ys[1] == approx(47 / 25.6)  # QA (6 h) now limits: 11/2 = 5.5 < 6
    assert ys[2] == approx(47 / 25.6)


# --------------------------------------------------------------------------- cycles
def test_a_cycle_is_reported_with_the_loop():
    with pytest.raises(CycleError) as info:
        a.topological_order(["a", "b", "c", "d"], [("d", "a"), ("a", "b"), ("b", "c"), ("c", "a")])
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}  # d leads into the loop but is not part of it
    assert "circle" in str(info.value)


def test_cycle_message_uses_stage_names():
    error = CycleError(["qa", "sec", "qa"], {"qa": "QA", "sec": "Security"})
    assert "QA → Security → QA" in str(error)


def test_self_dependency_is_a_cycle():
    with pytest.raises(CycleError):
        a.critical_path({"a": 1}, [("a", "a")])


def test_analyse_refuses_cycles():
    stages = [StageInput("a", "A", 1, 0), StageInput("b", "B", 1, 0)]
    with pytest.raises(CycleError):
        a.analyse(stages, [("a", "b"), ("b", "a")])
    assert a.find_cycle(["a", "b"], [("a", "b")]) is None


def test_unknown_stage_in_an_edge():
    with pytest.raises(ValueError, match="unknown"):
        a.topological_order(["a"], [("a", "zzz")])
