"""`{% live_session session can_stop=... %}` renders a session's snapshot wired to its stream.

The partial (live/session.html) carries data attributes that static/js/live.js reads; load
the script once per page with `{% live_scripts %}` inside `{% block scripts %}` and
`{% live_styles %}` inside `{% block head %}`.
"""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.html import format_html

from ..services import is_steerable, snapshot
from ..summary import describe

register = template.Library()


@register.inclusion_tag("live/session.html", takes_context=True)
def live_session(context, session, can_stop: bool = False, streams=(), can_steer: bool = False):
    """`streams`: optional (stream, label) pairs, e.g. one part per bet written by its own
    task: each is shown under its label, in that order, before its first token arrives.
    `can_steer`: show the steer box (if the session's kind takes steers)."""
    snap = snapshot(session)
    parts = [
        {"stream": stream, "label": label, "text": snap.texts.get(stream, "")}
        for stream, label in streams
    ]
    return {
        "snap": snap,
        "session": snap.session,
        "can_stop": can_stop,
        "parts": parts,
        "can_steer": can_steer and is_steerable(snap.session),
    }


@register.filter
def live_describe(event) -> str:
    return describe(event.type, event.data)


@register.simple_tag(takes_context=True)
def live_scripts(context):
    return format_html(
        '<script src="{}" defer nonce="{}"></script>',
        static("js/live.js"),
        context.get("csp_nonce", ""),
    )


@register.simple_tag
def live_styles():
    return format_html('<link rel="stylesheet" href="{}">', static("css/live.css"))
