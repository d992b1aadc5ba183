import pytest

from planning.bottlenecks import demo, services
from planning.bottlenecks.models import BottleneckMap, Scenario, Stage
from planning.notes.models import Note
from planning.quarters import current_quarter
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_demo_map_shows_the_bottleneck_moving_and_is_idempotent(team):
    user = UserFactory()
    demo.seed(team, user)
    demo.seed(team, user)
    maps = list(BottleneckMap.objects.filter(team=team).order_by("quarter"))
    assert [m.quarter for m in maps] == [
        str(current_quarter(team).previous()),
        str(current_quarter(team)),
    ]
    assert Stage.objects.filter(team=team).count() == 12
    assert Scenario.objects.count() == 1
    notes = Note.objects.count()
    assert notes == 5
    assert maps[1].copied_from == maps[0]

    (last, last_result), (this, this_result) = services.history(maps[1])
    assert last_result.bottleneck.stage.name == "Code generation"
    assert this_result.bottleneck.stage.name == "Security review"
    names = {st.pk: st.name for st in this.stages}
    assert [names[k] for k in this_result.moved_on] == ["Security review"]
    assert this_result.speedup > last_result.speedup


def test_investments_for_the_review_backlog(delivery_map, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        ranked = services.investments(delivery_map, limit=3)
    # Doubling security or review both take the map from 47/30.6 to 47/25.6 (+19.5 %).
    assert [i.stage for i in ranked] == ["Security review", "Code review", "Code generation"]
    assert ranked[0].is_bottleneck and not ranked[1].is_bottleneck
    assert ranked[0].gain == pytest.approx(30.6 / 25.6 - 1)
    assert ranked[1].ceiling == pytest.approx(47 / 20.6)
    # QA is off the critical path: doubling it gains nothing, so it is never suggested.
    assert "QA" not in [i.stage for i in services.investments(delivery_map, limit=10)]
