"""The test suite's pytest plugin, loaded with `-p tests.plugin` (pyproject's addopts) so that
it runs before pytest-django reads the settings.

- It says that this is a test run: EXPONENT_TESTING=1 (settings.TESTING: the fast password
  hasher, static files from the finders, a private Celery queue and cache prefix), and gives
  a SECRET_KEY if none is set.
- With no DATABASE_URL / CELERY_BROKER_URL (in the environment or .env) it starts the embedded
  PostgreSQL and Redis (planning/devstack.py) and exports their URLs, which the Celery and
  uvicorn processes the tests start inherit; at the end it stops the ones it started.
  `make test` starts them itself and passes the URLs, so then this starts nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
_started = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    os.environ["EXPONENT_TESTING"] = "1"
    # One key for this process and the workers and servers it starts (signed values cross them).
    os.environ.setdefault("SECRET_KEY", "insecure-key-of-the-test-suite-" + "0" * 32)
    dotenv = BASE_DIR / ".env"
    if dotenv.exists():  # settings would read it too: its URLs count as given
        import environ

        environ.Env.read_env(dotenv, overwrite=False)
    if not (os.environ.get("DATABASE_URL") and os.environ.get("CELERY_BROKER_URL")):
        from planning.devstack import Services

        services = Services()
        _started.append(services)
        env = dict(os.environ)
        services.up(env)
        os.environ.update(env)
    _own_services_per_xdist_worker()
    # WhiteNoise warns when STATIC_ROOT is missing; tests serve from the finders.
    (BASE_DIR / "var" / "staticfiles").mkdir(parents=True, exist_ok=True)
    return (yield)


def _own_services_per_xdist_worker() -> None:
    """Under pytest-xdist (`-n 2`) each worker process has its own test database (pytest-django
    adds the worker's suffix), its own fake Messages API (the port the controller picked when it
    loaded tests/conftest.py is forgotten, so tests.audits.fake picks a free one) and its own
    Redis database (the URL's database number plus the worker's number): the audits' claim and
    stop keys are named by database ids, which two test databases both start at 1. Pub/sub
    channels are shared across Redis databases, but theirs are named by UUIDs."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    os.environ.pop("AUDITS_TEST_FAKE_PORT", None)
    for name in ("CELERY_BROKER_URL", "REDIS_URL"):
        if os.environ.get(name):
            os.environ[name] = _with_database(os.environ[name], int(worker[2:]))


def _with_database(url: str, offset: int) -> str:
    """The URL of the Redis database `offset` after the one `url` names (redis://host/N, or a
    socket: unix://path?db=N for redis-py, redis+socket://path?virtual_host=N for kombu)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        base = int(parts.path.strip("/") or 0)
        return urlunsplit(parts._replace(path=f"/{base + offset}"))
    key = "virtual_host" if parts.scheme == "redis+socket" else "db"
    query = dict(parse_qsl(parts.query))
    query[key] = str(int(query.get(key) or 0) + offset)
    return urlunsplit(parts._replace(query=urlencode(query)))


def pytest_unconfigure(config):
    while _started:
        _started.pop().down()


# Coverage (`make test`) pauses during these tests (pytest-cov's no_cover): they walk again,
# in a real browser or with every hostile value in every form, pages that other tests measure,
# and tracing their thousands of requests would double their CPU time.
NOT_MEASURED = ("tests/browser/", "tests/hostile/test_hostile_values.py")


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("_cov"):  # pytest-cov is on only with --cov
        return
    for item in items:
        if item.nodeid.startswith(NOT_MEASURED):
            item.add_marker(pytest.mark.no_cover)


# The pure domain modules (maths and rules, no database): `make test` prints their branch
# coverage on one line after pytest-cov's report; the target is at least 90% each.
DOMAIN_MODULES = (
    "audits/graders.py",
    "planning/bottlenecks/analysis.py",
    "planning/cadences/schedule.py",
    "planning/inputs.py",
    "planning/quarters.py",
    "planning/reviews/logic.py",
    "planning/saturation/analysis.py",
    "planning/saturation/fitting.py",
    "predictions/scoring.py",
    "predictions/trajectory.py",
)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    plugin = config.pluginmanager.getplugin("_cov")
    cov = getattr(getattr(plugin, "cov_controller", None), "cov", None)
    if cov is None:
        return
    import io

    shares = []
    for path in DOMAIN_MODULES:
        with contextlib.suppress(Exception):  # a module no test imported has no data
            shares.append(
                f"{path} {cov.report(include=[str(BASE_DIR / path)], file=io.StringIO()):.0f}%"
            )
    if shares:
        terminalreporter.write_line(
            "Branch coverage of the pure domain modules (target ≥ 90%): " + ", ".join(shares)
        )
