from django import template
from django.contrib.contenttypes.models import ContentType

from planning.notes.services import LightShade, light_shade_of

register = template.Library()


@register.inclusion_tag("notes/light_shade.html", takes_context=True)
def light_shade(
    context, obj, notes: LightShade | None = None, compact: bool = False, editable: bool = True
):
    """Render an object's light and shade side by side, with inline add for editors.

    Pass `notes` (from planning.notes.services.notes_for) on list pages to avoid a query per row,
    and `editable=False` where the object is frozen (a closed review's bets).
    """
    membership = context.get("membership")
    return {
        "object": obj,
        "ls": notes if notes is not None else light_shade_of(obj),
        "ct_id": ContentType.objects.get_for_model(obj).pk,
        "can_edit": bool(membership and membership.can_edit and editable),
        "team": context.get("team"),
        "compact": compact,
        "csrf_token": context.get("csrf_token"),
    }
