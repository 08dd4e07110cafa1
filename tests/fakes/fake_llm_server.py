"""A real loopback HTTP server that answers like OpenAI and Gemini with canned completions.

Backend tests need the real SDKs to talk real HTTP (headers, status codes, retry-after,
timeouts) without a network or a key, and sweep/concurrency tests need to count requests in
flight. The server runs ``ThreadingHTTPServer`` on 127.0.0.1 with an ephemeral port in a
background thread; use it as a context manager.

Served routes:

* ``POST /v1/chat/completions`` (OpenAI chat completions, with ``usage``)
* ``POST /v1beta/models/<model>:generateContent`` (Gemini API, with ``usageMetadata``)

Usage is counted deterministically: prompt tokens are the whitespace-separated words of every
message (including the system instruction), completion tokens the words of the reply.

Failures are scripted per request, in arrival order: request *i* gets ``failures[i]`` while the
script lasts, a normal reply afterwards. A script entry is a ``Failure``, an ``int`` status, a
``Malformed`` 200 reply, the string ``"timeout"`` (hold the response for ``timeout_delay_s``, then
reply normally), or ``None`` (reply normally). ``failure_every=(k, spec)`` instead gives every
k-th request ``spec`` (seeded by arrival order, so a sweep sees the same share of faults).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

TIMEOUT = "timeout"

_GEMINI_PATH = re.compile(r"^/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):generateContent$")
_OPENAI_PATH = "/v1/chat/completions"
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                  503: "UNAVAILABLE"}


@dataclass(frozen=True)
class Failure:
    """One injected failure: an HTTP error status with optional headers and message."""

    status: int = 500
    headers: Mapping[str, str] = field(default_factory=dict)
    message: str = "injected failure"


@dataclass(frozen=True)
class Malformed:
    """A 200 reply the client cannot use: ``html`` (a proxy's error page), ``truncated``
    (JSON cut in the middle), ``usage`` (a string where usage numbers belong), ``choices``
    (no choices at all) or ``array`` (valid JSON of the wrong shape)."""

    kind: str = "html"


FailureSpec = Failure | Malformed | int | str | None
Replies = Callable[[dict[str, Any]], str] | Sequence[str] | str


@dataclass(frozen=True)
class RecordedRequest:
    """What the server saw: path, headers (lower-cased names), JSON body, and which API."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    api: str
    """``"openai"``, ``"gemini"`` or ``"unknown"``."""


def prompt_text(body: Mapping[str, Any]) -> str:
    """All message text of an OpenAI or Gemini request body, joined by newlines."""
    texts = [str(m.get("content") or "") for m in body.get("messages", [])]
    contents = list(body.get("contents", []))
    if "systemInstruction" in body:
        contents.insert(0, body["systemInstruction"])
    for content in contents:
        texts.extend(str(p.get("text", "")) for p in content.get("parts", []))
    return "\n".join(texts)


def count_words(text: str) -> int:
    """The fake's token count: whitespace-separated words."""
    return len(text.split())


class FakeLLMServer:
    """Canned-reply OpenAI/Gemini server with scripted failures and an in-flight counter."""

    def __init__(self, replies: Replies = "OK", failures: Sequence[FailureSpec] | None = None,
                 delay_s: float = 0.0, timeout_delay_s: float = 1.5,
                 model: str = "fake-model",
                 failure_every: tuple[int, FailureSpec] | None = None) -> None:
        self.replies = replies
        self.delay_s = delay_s
        self.timeout_delay_s = timeout_delay_s
        self.model = model
        self._failures: list[FailureSpec] = list(failures or [])
        self._every = failure_every
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._replies_served = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        server_class = type("_Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self._httpd = server_class(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        name="fake-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; held ("timeout") responses are released at once."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- inspection ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the Gemini SDK's base URL)."""
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        """``<url>/v1`` (the OpenAI SDK's base URL)."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def max_in_flight(self) -> int:
        """The most requests that were being handled at the same moment."""
        with self._lock:
            return self._max_in_flight

    def inject(self, failures: Sequence[FailureSpec]) -> None:
        """Append to the failure script (consumed by the next requests in order)."""
        with self._lock:
            self._failures.extend(failures)

    # -- used by the handler ---------------------------------------------------------------

    def _begin(self, request: RecordedRequest) -> FailureSpec:
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            if self._failures:
                return self._failures.pop(0)
            if self._every and len(self._requests) % self._every[0] == 0:
                return self._every[1]
            return None

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _reply_text(self, body: dict[str, Any]) -> str:
        if callable(self.replies):
            return self.replies(body)
        if isinstance(self.replies, str):
            return self.replies
        with self._lock:
            index = min(self._replies_served, len(self.replies) - 1)
            self._replies_served += 1
        return self.replies[index]


class _Handler(BaseHTTPRequestHandler):
    """Routes one request to the fake's script and writes the JSON answer."""

    fake: FakeLLMServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output quiet."""

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        path = self.path.split("?", 1)[0]
        gemini = _GEMINI_PATH.match(path)
        api = "openai" if path == _OPENAI_PATH else "gemini" if gemini else "unknown"
        headers = {k.lower(): v for k, v in self.headers.items()}
        failure = self.fake._begin(RecordedRequest(self.path, headers, body, api))
        try:  # "in flight" ends before the answer is written, so a client that reacts to
            # the answer at once can never be counted together with this request
            status, payload, extra_headers = self._answer(
                api, body, failure, gemini.group("model") if gemini else None)
        finally:
            self.fake._end()
        try:
            if isinstance(failure, Malformed):
                self._send_raw(*_malformed(failure.kind, payload))
                return
            self._send_json(status, payload, extra_headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout); fine

    def _answer(self, api: str, body: dict[str, Any], failure: FailureSpec,
                path_model: str | None) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        self.fake._wait(self.fake.delay_s)
        if failure == TIMEOUT:
            self.fake._wait(self.fake.timeout_delay_s)
        elif isinstance(failure, int):
            failure = Failure(failure)
        if isinstance(failure, Failure):
            return _error_answer(api, failure)
        if isinstance(failure, Malformed):
            failure = None  # the answer is built, then spoiled on the way out
        if api == "unknown":
            return _error_answer(api, Failure(404, message=f"no route for {self.path}"))
        text = self.fake._reply_text(body)
        prompt, completion = count_words(prompt_text(body)), count_words(text)
        if api == "openai":
            model = body.get("model") or self.fake.model
            return 200, _openai_payload(model, text, prompt, completion), {}
        model = path_model or self.fake.model
        return 200, _gemini_payload(model, text, prompt, completion), {}

    def _send_raw(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: dict[str, Any],
                   headers: Mapping[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _malformed(kind: str, payload: dict[str, Any]) -> tuple[bytes, str]:
    """The bytes and content type of a spoiled 200 reply."""
    if kind == "html":
        return b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>", "text/html"
    if kind == "truncated":
        return json.dumps(payload).encode()[:60], "application/json"
    if kind == "usage":
        spoiled = {**payload, "usage": "lots", "usageMetadata": "lots"}
        return json.dumps(spoiled).encode(), "application/json"
    if kind == "choices":
        return json.dumps({**payload, "choices": [], "candidates": []}).encode(), "application/json"
    return b"[1, 2, 3]", "application/json"


def _error_answer(api: str, failure: Failure) -> tuple[int, dict[str, Any], Mapping[str, str]]:
    if api == "gemini":
        status = _GOOGLE_STATUS.get(failure.status, "UNKNOWN")
        error: dict[str, Any] = {"code": failure.status, "message": failure.message,
                                 "status": status}
    else:
        error = {"message": failure.message, "type": "fake_error", "code": failure.status}
    return failure.status, {"error": error}, failure.headers


def _openai_payload(model: str, text: str, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }


def _gemini_payload(model: str, text: str, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "candidates": [{"index": 0, "finishReason": "STOP",
                        "content": {"role": "model", "parts": [{"text": text}]}}],
        "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": completion,
                          "totalTokenCount": prompt + completion},
        "modelVersion": model,
    }
