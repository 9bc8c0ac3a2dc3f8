"""A real HTTP receiver on loopback for the webhook tests (partners/tests and the cross-app worker test)."""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # a client that went away (a killed worker): nothing to report
        super().handle_error(request, client_address)


class Receiver:
    """Records every POST (event id, headers, body, the answer given) when it arrives; answers `answer(request)`
    (default 200), after `delay` seconds (a slow receiver)."""

    def __init__(self, delay: float = 0.0):
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
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/vip"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def acknowledged(self) -> list[dict]:
        return [r for r in self.requests if 200 <= r["status"] < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
