"""Development-only code: the fake Messages API server (devtools/fakeapi.py) and the Celery
tasks only the tests send (devtools/tasks.py). Importable from the repository root (tests,
`make run`, bench/); not shipped by `pip install .` (pyproject's package list leaves it out)."""
