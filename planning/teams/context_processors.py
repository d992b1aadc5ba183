from django.http import HttpRequest


def teams(request: HttpRequest) -> dict:
    """The signed-in user's memberships for the team switcher (one query, lazily)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def memberships():
        if not hasattr(request, "_memberships"):
            request._memberships = list(user.memberships.select_related("team"))
        return request._memberships

    return {
        "my_memberships": memberships,
        "team": getattr(request, "team", None),
        "membership": getattr(request, "membership", None),
    }
