#!/usr/bin/env python
"""A loopback OpenAI-compatible server for benchmarks: every chat completion is answered with a
well-formed negotiation turn (``tests.fakes.negotiation_replies.turn_text``, derived from the
prompt) after a fixed latency.

It speaks HTTP/1.1 with keep-alive (as real providers do) and listens with a 1024-connection
backlog (the stdlib's default of 5 refuses part of a burst of simultaneous connections), one
thread per connection. It counts the calls in flight, the most at once, and the calls made:

* ``GET /stats`` -> ``{"in_flight", "max_in_flight", "requests", "latency_s"}``
* ``POST /reset`` -> zeroes ``max_in_flight`` (down to the calls now in flight) and ``requests``
* ``POST /v1/chat/completions`` (any other POST path) -> a chat completion

Run it from the repository root; it prints its port once it is listening::

    python benchmarks/loopback_server.py --port 0 --latency 0.2
    python benchmarks/loopback_server.py --port 8765 --latency 2 --exit-on-eof  # until stdin closes

A benchmark in another process uses ``LoopbackServer`` (the server in a child process, so its
threads do not share the benchmark's GIL; a real provider is remote too).
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.fake_llm_server import count_words, prompt_text  # noqa: E402
from tests.fakes.negotiation_replies import turn_text  # noqa: E402


class Stats:
    """Calls in flight now, the most at once, and the calls made (thread-safe)."""

    def __init__(self, latency_s: float) -> None:
        self.lock = threading.Lock()
        self.latency_s = latency_s
        self.in_flight = self.max_in_flight = self.requests = 0

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.requests += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
                    "requests": self.requests, "latency_s": self.latency_s}

    def reset(self) -> None:
        with self.lock:
            self.max_in_flight, self.requests = self.in_flight, 0


class Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, port: int, latency_s: float) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.stats = Stats(latency_s)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, payload: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.startswith("/stats"):
            self._send(self.server.stats.snapshot())
        else:
            self._send({"error": {"message": f"no such path {self.path}"}}, 404)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        arrived = time.perf_counter()
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path.startswith("/reset"):
            self.server.stats.reset()
            self._send({})
            return
        stats = self.server.stats
        stats.enter()
        try:
            text = turn_text(body)
            prompt, completion = count_words(prompt_text(body)), count_words(text)
            time.sleep(max(0.0, stats.latency_s - (time.perf_counter() - arrived)))
        finally:
            stats.leave()
        self._send({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "bench"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        })


class LoopbackServer:
    """This module's server in a child process; it stops when ``close`` closes its stdin."""

    def __init__(self, latency_s: float, port: int = 0) -> None:
        command = [sys.executable, __file__, "--port", str(port), "--latency", str(latency_s),
                   "--exit-on-eof"]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def _call(self, method: str, path: str) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=b"{}" if method == "POST" else None,
                         headers={"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per call")
    parser.add_argument("--exit-on-eof", action="store_true",
                        help="stop when stdin closes (for a parent process)")
    args = parser.parse_args()
    server = Server(args.port, args.latency)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    try:
        if args.exit_on_eof:
            sys.stdin.read()
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
