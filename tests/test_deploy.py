import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_variables():
    env = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": "x" * 20 + "production-secret-key-for-the-check-0123456789",
        "DATABASE_URL": "postgresql://u:p@db.example.com:5432/exponent",
        "CELERY_BROKER_URL": "redis://redis.example.com:6379/0",
        "ALLOWED_HOSTS": "exponent.example.com",
        "EMAIL_URL": "smtp+tls://user:pw@smtp.example.com:587",
        "EXPONENT_TESTING": "0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_unless_asked():
    from django.conf import settings

    assert settings.DEBUG is False
