"""Connected metrics benchmark.

1. Parsing (pure, predictions/sourcemap.py): a CSV of 5,000 dates × 2 models (10,000 lines,
   the shared row limit) under a filter (`model == "best"`) and a JSON document of 5,000
   records under a rows selector; p50 of repeated parses.
2. One fetch end to end (predictions/fetching.py): a local HTTP server serves the CSV, the
   fetch goes through netguard, the rows through the API's upsert: first fetch (5,000 new
   observations), an unchanged refetch (all "unchanged"; the server ignores the ETag here),
   a 304 refetch; wall time and SQL queries of each.

The load average is printed with the figures: the machine may be shared.
Uses the configured database (it must be migrated); the bench team is deleted afterwards.

    .venv/bin/python bench/sources.py [--rows 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planning.settings")
os.environ.setdefault("EXPONENT_TESTING", "1")
os.environ.setdefault("NETGUARD_ALLOW_LOOPBACK", "1")  # the bench's own server is local


def payloads(rows: int) -> tuple[str, str]:
    start = date(1990, 1, 1)
    days = [start + timedelta(days=i) for i in range(rows)]
    csv_text = "date,model,score\n" + "".join(
        f"{d},best,{0.3 + i / rows / 2:.5f}\n{d},base,{0.2 + i / rows / 3:.5f}\n"
        for i, d in enumerate(days)
    )
    doc = {"data": {"results": [{"day": str(d), "v": i + 1} for i, d in enumerate(days)]}}
    return csv_text, json.dumps(doc)


def timed(fn, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from planning.teams.models import Team
    from predictions import fetching, sourcemap
    from predictions.models import Metric, MetricSource

    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    csv_text, json_text = payloads(args.rows)
    today = date.today()
    csv_map = sourcemap.compile_mapping(
        sourcemap.Mapping("csv", "date", "score", filter='model == "best"', factor=100)
    )
    json_map = sourcemap.compile_mapping(sourcemap.Mapping("json", "day", "v", rows="data.results"))
    n = len(sourcemap.parse(csv_text, csv_map, today=today).rows)
    ms = timed(lambda: sourcemap.parse(csv_text, csv_map, today=today))
    print(f"parse CSV  {len(csv_text) / 1e6:.2f} MB, {2 * args.rows:,} lines -> {n:,} rows: "
          f"p50 {ms:.0f} ms")  # fmt: skip
    n = len(sourcemap.parse(json_text, json_map, today=today).rows)
    ms = timed(lambda: sourcemap.parse(json_text, json_map, today=today))
    print(f"parse JSON {len(json_text) / 1e6:.2f} MB, {args.rows:,} records -> {n:,} rows: "
          f"p50 {ms:.0f} ms")  # fmt: skip

    body = csv_text.encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            if self.path == "/etag" and self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.send_header("ETag", '"v1"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            if self.path == "/etag":
                self.send_header("ETag", '"v1"')
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    team = Team.objects.create(name=slug, slug=slug)
    try:
        metric = Metric.objects.create(team=team, name="feed", unit="%", scale="linear")
        source = MetricSource.objects.create(
            metric=metric, url=f"{base}/etag", date_field="date", value_field="score",
            filter='model == "best"', factor=100, etag="",
        )  # fmt: skip
        for label in ("first fetch", "refetch answered 304 (ETag)"):
            MetricSource.objects.filter(pk=source.pk).update(next_fetch_at=timezone.now())
            with CaptureQueriesContext(connection) as queries:
                t0 = time.perf_counter()
                ids, token = fetching.claim_due(batch=1000)
                outcome = fetching.run(source.pk, token)
                ms = (time.perf_counter() - t0) * 1000
            print(f"{label}: {ms:.0f} ms, {len(queries)} queries — {outcome.message}")
        MetricSource.objects.filter(pk=source.pk).update(
            url=f"{base}/plain", etag="", next_fetch_at=timezone.now()
        )
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            ids, token = fetching.claim_due(batch=1000)
            outcome = fetching.run(source.pk, token)
            ms = (time.perf_counter() - t0) * 1000
        print(f"refetch, unchanged body: {ms:.0f} ms, {len(queries)} queries — {outcome.message}")
    finally:
        team.delete()
        server.shutdown()
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
