"""A webhook receiver on 127.0.0.1 for apprise's ``json://`` channels: what the real client
library delivers, with a status to answer (a fault to inject)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Webhook:
    """The receiver's state: bodies it accepted, every POST it saw, its next answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"json://127.0.0.1:{port}/hook"
        self.status = 200
        self.hits = 0
        self.received: list[dict[str, Any]] = []


@contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    """Serve a webhook until the block ends; a POST answered 200 is kept in ``received``."""
    state: list[Webhook] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook = state[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.hits += 1
            if hook.status == 200:
                hook.received.append(json.loads(body or b"{}"))
            self.send_response(hook.status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Webhook(int(server.server_address[1])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
