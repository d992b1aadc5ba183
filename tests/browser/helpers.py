"""Small steps shared by the browser tests."""

from tests.factories import PASSWORD


def log_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the real login form."""
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def logged_in_context(
    browser, base_url: str, user, width: int = 1200, height: int = 900, **options
):
    """A browser context that carries `user`'s session cookie (no login form needed)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(20_000)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )
    return context
