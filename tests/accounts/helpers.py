"""Reading links out of the mails allauth sends."""

import re

from django.core import mail


def link_in_mail(pattern: str, message=None) -> str:
    """The path of the first link in `message` (default: the last mail) matching `pattern`."""
    body = (message or mail.outbox[-1]).body
    found = re.search(rf"https?://[^/\s]+({pattern}\S*)", body)
    assert found, f"no link matching {pattern!r} in:\n{body}"
    return found.group(1)


def sign_up(client, email: str, password: str, name: str = "Ada", **extra):
    return client.post(
        "/accounts/signup/",
        {"name": name, "email": email, "password1": password, "password2": password},
        **extra,
    )


def confirm_address(client) -> None:
    """Follow the confirmation link of the last mail and confirm (a POST, as the page does)."""
    link = link_in_mail("/accounts/confirm-email/")
    assert client.get(link).status_code == 200
    response = client.post(link)
    assert response.status_code == 302, response.content.decode()[:500]
