"""Chart pages in a real browser: from navigation to a drawn chart, next to the server time.

Starts its own web server (uvicorn, static files collected with hashed names, gzip and
long-lived cache headers, as `make run` serves them), seeds the demo team if it is missing,
then loads the demo's first metric page in Debian's chromium: once cold (empty cache) and
`--loads` times warm (plotly.js from the browser cache, as on every later visit).

Printed: p50/max browser time from navigation start to the chart's `chart:drawn` event, the
server's time to first byte for the same loads, and the bytes plotly.js took on the wire.

    .venv/bin/python bench/charts.py [--loads 10] [--port 8765]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic",
        "--no-first-run"]  # fmt: skip
DRAWN = """() => new Promise((resolve) => {
  const done = () => resolve(performance.now());
  if (document.querySelector('.plotly-chart[data-drawn]')) return done();
  document.addEventListener('chart:drawn', done, { once: true });
})"""


def _env() -> dict[str, str]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="planning.settings", DJANGO_DEBUG="1")
    env.pop("EXPONENT_TESTING", None)
    return env


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the web server exited; see its output above")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"the web server did not answer on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--port", type=int, default=8765)
    opts = parser.parse_args()
    env = _env()
    manage = [PY, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], env=env, check=True)
    probe = (
        "from planning.teams.models import Team as T; print(T.objects.filter(slug='demo').exists())"
    )
    has_demo = subprocess.run(
        [*manage, "shell", "-c", probe], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    if has_demo != "True":
        subprocess.run([*manage, "seed_demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen(
        [PY, "-m", "uvicorn", "planning.asgi:application", "--port", str(opts.port),
         "--log-level", "warning"], cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        _wait_for_port(opts.port, server)
        run(f"http://127.0.0.1:{opts.port}", opts.loads)
    finally:
        server.terminate()
        server.wait(10)


def run(base: str, loads: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(120_000)  # a busy machine is slow, not broken
        page = context.new_page()
        page.goto(base + "/accounts/login/")
        page.fill("input[type=email]", "demo@example.com")
        page.fill("input[type=password]", "exponent-demo")
        page.locator("main button[type=submit]").first.click()
        page.wait_for_load_state()
        page.goto(base + "/t/demo/metrics/")
        url = base + page.locator("a[href*='/metrics/']:not([href$='/new/'])").nth(1).get_attribute(
            "href"
        )
        cold_context = browser.new_context(viewport={"width": 1440, "height": 900})
        cold_context.set_default_timeout(120_000)
        cold_context.add_cookies(context.cookies())

        def load(p) -> tuple[float, float, int]:
            p.goto(url, wait_until="commit")
            drawn = p.evaluate(DRAWN)
            ttfb = p.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.responseStart - n.requestStart; }"
            )
            plotly = p.evaluate(
                "() => performance.getEntriesByType('resource')"
                ".filter(r => r.name.includes('plotly')).map(r => r.transferSize)[0] || 0"
            )
            return drawn, ttfb, plotly

        cold = load(cold_context.new_page())
        load(page)  # the first warm-up fills this context's cache
        warm = [load(page) for _ in range(loads)]
        browser.close()

    drawn = [w[0] for w in warm]
    ttfb = [w[1] for w in warm]
    load1, load5, load15 = os.getloadavg()
    print(f"metric page {url.removeprefix(base)}, chromium 1440x900, load average "
          f"{load1:.2f} {load5:.2f} {load15:.2f} ({os.cpu_count()} cores)")  # fmt: skip
    print(f"  cold (empty cache): chart drawn at {cold[0]:.0f} ms; server {cold[1]:.0f} ms; "
          f"plotly.js on the wire {cold[2] / 1e6:.2f} MB")  # fmt: skip
    print(f"  warm, {loads} loads: chart drawn p50 {statistics.median(drawn):.0f} ms "
          f"(max {max(drawn):.0f} ms); server time to first byte p50 "
          f"{statistics.median(ttfb):.0f} ms (max {max(ttfb):.0f} ms)")  # fmt: skip
    print("  target: chart drawn <= 400 ms; plotly.js <= 1.2 MB transferred")


if __name__ == "__main__":
    main()
