"""Small steps shared by the browser tests."""

from tests.factories import PASSWORD


def log_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the real login form."""
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
