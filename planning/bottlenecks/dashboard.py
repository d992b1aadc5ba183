"""The dashboard card: the latest map's overall speed-up and its bottleneck (three queries)."""

from __future__ import annotations

from . import analysis, services


def summary(team) -> dict | None:
    bmap = services.latest_map(team)
    if bmap is None:
        return None
    url = bmap.get_absolute_url()
    loaded = services.load(bmap)
    if not loaded.stages:
        return {
            "template": "bottlenecks/dashboard_summary.html",
            "map": bmap,
            "url": url,
            "result": None,
        }
    result = analysis.analyse(loaded.inputs(), loaded.edges, details=False)
    names: dict[analysis.Key, str] = {st.pk: st.name for st in loaded.stages}
    return {
        "template": "bottlenecks/dashboard_summary.html",
        "map": bmap,
        "url": url,
        "result": result,
        "bottleneck": result.bottleneck.stage.name if result.bottleneck else None,
        "share": result.bottleneck.share_after if result.bottleneck else None,
        "bottleneck_is_new": bool(result.bottleneck and result.bottleneck.key in result.moved_on),
        "moved_on": [names[k] for k in result.moved_on],
    }
