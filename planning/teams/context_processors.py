from django.http import HttpRequest


def teams(request: HttpRequest) -> dict:
    """The signed-in user's memberships for the team switcher (one query, lazily)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def memberships():
        if "_memberships" not in request.__dict__:  # cached on the request
            request.__dict__["_memberships"] = list(user.memberships.select_related("team"))
        return request.__dict__["_memberships"]

    return {
        "my_memberships": memberships,
        "team": getattr(request, "team", None),
        "membership": getattr(request, "membership", None),
    }
