import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "production-secret-key-for-the-check-0123456789",
    "DATABASE_URL": "postgresql://u:p@db.example.com:5432/exponent",
    "CELERY_BROKER_URL": "redis://redis.example.com:6379/0",
    "ALLOWED_HOSTS": "exponent.example.com",
    "EMAIL_URL": "smtp+tls://user:pw@smtp.example.com:587",
    "EXPONENT_TESTING": "0",
}


def run_with(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run Python in a fresh process that sees only the production variables (and `env`)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], **PRODUCTION, **env},
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_variables():
    result = run_with(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# (Not asked of this process's settings: pytest-django turns DEBUG off whatever they say.)
@pytest.mark.parametrize("asked, debug", [({}, "False"), ({"DJANGO_DEBUG": "1"}, "True")])
def test_debug_is_off_unless_asked(asked, debug):
    code = "from django.conf import settings; print(settings.DEBUG)"
    result = run_with(["-c", code], DJANGO_SETTINGS_MODULE="planning.settings", **asked)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == debug
