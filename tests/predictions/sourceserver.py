"""A local HTTP server for metric-source tests: CSV and JSON sources, a slow one, a huge one,
a changing one (with an ETag), one answering 500 and redirects.

Every request is counted per path (`hits`); `release` lets the slow route go.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CSV = "date,model,score\n2026-01-01,best,0.5\n2026-01-01,old,0.2\n2026-02-01,best,0.625\n"
JSON = {"data": {"results": [{"day": "2026-03-01", "v": 7}, {"day": "2026-04-01", "v": 9}]}}


class SourceServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.hits: Counter[str] = Counter()
        self.headers: dict[str, dict[str, str]] = {}
        self.changing = "date,value\n2026-01-01,1\n2026-02-01,2\n"
        self.release = threading.Event()
        self.redirect_to = ""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - stdlib signature
                pass

            def _send(self, status: int, body: bytes, ctype: str = "text/csv", **extra) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                path = urlsplit(self.path).path
                owner.hits[path] += 1
                owner.headers[path] = {k.lower(): v for k, v in self.headers.items()}
                if path.startswith("/csv"):
                    return self._send(200, CSV.encode())
                if path == "/json":
                    return self._send(200, json.dumps(JSON).encode(), "application/json")
                if path == "/changing":
                    etag = f'"{hash(owner.changing) & 0xFFFFFFFF:x}"'
                    if self.headers.get("If-None-Match") == etag:
                        return self._send(304, b"", ETag=etag)
                    return self._send(200, owner.changing.encode(), ETag=etag)
                if path == "/slow":
                    owner.release.wait(30)
                    return self._send(200, b"date,value\n")
                if path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/csv")
                    self.end_headers()  # no Content-Length: the size shows while reading
                    self.wfile.write(b"date,value\n")
                    for _ in range(200):
                        self.wfile.write(b"2026-01-01,1\n" * 100)
                    self.close_connection = True
                    return None
                if path == "/fail":
                    return self._send(500, b"oops", "text/plain")
                if path == "/auth":
                    if self.headers.get("X-Token") != "s3cret":
                        return self._send(401, b"no", "text/plain")
                    return self._send(200, CSV.encode())
                if path == "/redirect":
                    return self._send(302, b"", Location=owner.redirect_to)
                return self._send(404, b"", "text/plain")

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def __enter__(self) -> SourceServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
