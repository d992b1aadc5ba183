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
    # Security's queue halved takes the map from 47/30.6 to 47/26.6; code review's queue
    # halved to 47/27.6; code review's work twice as fast to 47/28.6.
    assert [(i.stage, i.lever) for i in ranked] == [
        ("Security review", "Halve its waiting time"),
        ("Code review", "Halve its waiting time"),
        ("Code review", "Make its work twice as fast"),
    ]
    assert ranked[0].is_bottleneck and not ranked[1].is_bottleneck
    assert ranked[0].gain == pytest.approx(30.6 / 26.6 - 1)
    assert ranked[1].ceiling == pytest.approx(47 / 20.6)
    assert "QA" not in [i.stage for i in services.investments(delivery_map, limit=10)]


def test_demo_has_a_pull_request_export_ready_to_measure(team):
    from zoneinfo import ZoneInfo

    from planning.bottlenecks import delivery
    from planning.bottlenecks.models import DeliveryUpload

    user = UserFactory()
    demo.seed(team, user)
    demo.seed(team, user)
    upload = DeliveryUpload.objects.get(team=team)
    assert upload.map.quarter == str(current_quarter(team))
    export = delivery.read_export(upload.text)
    assert export.problems == [] and len(export.sheet.rows) == upload.rows == 48
    columns = delivery.guess_columns("github", export.header)
    assert set(columns) == {"id", "created", "first_review", "approved", "merged", "deployed"}
    parsed = delivery.parse_pull_requests(export.sheet.rows, columns, ZoneInfo("UTC"))
    assert parsed.problems == [] and parsed.items == 48
