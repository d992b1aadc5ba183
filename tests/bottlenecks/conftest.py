import pytest

from planning.bottlenecks import demo
from planning.bottlenecks.models import BottleneckMap, Stage, StageDependency


def make_map(team, stages=(), edges=(), name="Delivery", quarter="2026-Q1", **kwargs):
    """A map with stages given as (name, active, waiting, speedup_active, speedup_waiting)."""
    bmap = BottleneckMap.objects.create(team=team, name=name, quarter=quarter, **kwargs)
    created = {}
    for i, (stage_name, active, waiting, sa, sw) in enumerate(stages):
        created[stage_name] = Stage.objects.create(
            map=bmap,
            name=stage_name,
            order=i,
            active_hours=active,
            waiting_hours=waiting,
            speedup_active=sa,
            speedup_waiting=sw,
        )
    for a, b in edges:
        StageDependency.objects.create(depends_on=created[a], stage=created[b])
    return bmap


@pytest.fixture
def delivery_map(team):
    """The example software-delivery map (this quarter's speed-ups): security is the bottleneck."""
    bmap = BottleneckMap.objects.create(team=team, name="Feature delivery", quarter="2026-Q1")
    demo.add_example_stages(bmap, demo.THIS_QUARTER)
    return bmap


def stage(bmap, name) -> Stage:
    return bmap.stages.get(name=name)
