"""The sections of Exponent: each feature app registers its own once, in `AppConfig.ready()`.

The navigation, the team dashboard, `seed_demo`, a cadence's "Open the activity" link and
team creation are all built from this registry; nothing else lists the features. Callables
are dotted paths, imported on first use, so registering imports no models or views.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from planning.accounts.models import User
    from planning.teams.models import Team


@dataclass(frozen=True)
class Section:
    key: str  # the app's label
    order: int  # place in the navigation and on the dashboard
    title: str  # the dashboard card's heading
    idea: str  # the card's one-paragraph explanation
    action: str  # the card's button while the section has no summary
    nav_label: str  # the navigation entry
    url_name: str  # the section's landing page; takes only `team`
    nav_paths: tuple[str, ...]  # path fragments that mark the navigation entry current
    # `summary(team) -> dict | None`: the dashboard card's content; the dict names a
    # `template`, rendered with the dict as `summary`.
    summary: str | None = None
    # `seed(team, user) -> None`: the section's demo data; must be idempotent.
    demo: str | None = None
    # Cadence kinds whose work happens on the landing page ("Open the activity").
    activities: tuple[str, ...] = ()
    # `hook(team) -> Any`: runs inside the transaction that creates a team.
    on_team_created: str | None = None

    @property
    def verbose_name(self) -> str:
        return str(apps.get_app_config(self.key).verbose_name)

    def url(self, team: Team) -> str:
        return reverse(self.url_name, kwargs={"team": team.slug})

    def is_current(self, path: str) -> bool:
        return any(fragment in path for fragment in self.nav_paths)

    def summary_for(self, team: Team) -> dict[str, Any] | None:
        return _resolve(self.summary)(team) if self.summary else None

    def seed_demo(self, team: Team, user: User) -> None:
        if self.demo:
            _resolve(self.demo)(team, user)

    def team_created(self, team: Team) -> None:
        if self.on_team_created:
            _resolve(self.on_team_created)(team)


_registry: dict[str, Section] = {}


def register(section: Section) -> None:
    """Called from the app's `AppConfig.ready()`; registering the same section twice is harmless."""
    known = _registry.get(section.key)
    if known is not None and known != section:
        raise ImproperlyConfigured(f"Section {section.key!r} is registered twice, differently.")
    _registry[section.key] = section


def all_sections() -> list[Section]:
    """Sections in navigation and dashboard order."""
    return sorted(_registry.values(), key=lambda s: s.order)


def in_app_order() -> list[Section]:
    """Sections in INSTALLED_APPS order: demo data and new-team hooks run in this order, so a
    later app may read what an earlier one created."""
    return [_registry[c.label] for c in apps.get_app_configs() if c.label in _registry]


def for_activity(kind: str) -> Section | None:
    """The section where a cadence of this kind does its work."""
    return next((s for s in _registry.values() if kind in s.activities), None)


def _resolve(path: str) -> Callable[..., Any]:
    # Looked up on every call (a dict look-up once imported), so a patched function is seen.
    return import_string(path)
