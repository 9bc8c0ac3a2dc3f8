"""A real HTTP receiver on loopback for the webhook tests (partners/tests and the cross-app worker test)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records every POST (event id, headers, body, the answer given); answers `statuses()` (default 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.answer = lambda request: 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = {"headers": headers, "body": body, "event": json.loads(body)}
                with receiver.lock:
                    request["status"] = status = receiver.answer(request)
                    receiver.requests.append(request)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/vip"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def acknowledged(self) -> list[dict]:
        return [r for r in self.requests if 200 <= r["status"] < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
