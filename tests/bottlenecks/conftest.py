import pytest

from planning.bottlenecks import demo
from planning.bottlenecks.models import BottleneckMap, Stage


@pytest.fixture
def delivery_map(team):
    """The example software-delivery map (this quarter's speed-ups): security is the bottleneck."""
    bmap = BottleneckMap.objects.create(team=team, name="Feature delivery", quarter="2026-Q1")
    demo.add_example_stages(bmap, demo.THIS_QUARTER)
    return bmap


def stage(bmap, name) -> Stage:
    return bmap.stages.get(name=name)
