"""A response cache: a backend wrapper that answers repeated requests from disk.

Like retry and limits, caching wraps a provider. A request is keyed by the SHA-256 of its
canonical JSON: the model spec (provider, model, base URL), the messages, and the generation
settings that change an answer (temperature, top-p, top-k, max tokens, seed; the timeout and
the KV-cache key are left out). Answers live in one SQLite file per run folder
(``responses.sqlite``), so re-running a sweep after a harness change (to re-parse, re-score or
rebuild logs) pays only for the calls it has not made before, and ``--replay`` re-runs a
finished run with no model call at all (a request missing from the cache is then a
``FatalError``: the run asked for something the recorded one never did). A cached answer is
returned with ``cached=True`` (marked in the turn record, costing nothing) and zero latency.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Literal

from negotiation.backends.base import Backend, Completion, FatalError, GenerateConfig, Message
from negotiation.backends.wrappers import Forwarding

CACHE_NAME = "responses.sqlite"
CacheMode = Literal["use", "replay"]
_SCHEMA = """CREATE TABLE IF NOT EXISTS responses (
  key TEXT PRIMARY KEY, spec TEXT NOT NULL, completion TEXT NOT NULL, created_at TEXT NOT NULL
    DEFAULT CURRENT_TIMESTAMP)"""


def request_key(spec: str, messages: list[Message], config: GenerateConfig) -> str:
    """The cache key of one request."""
    settings = {k: v for k, v in config.to_record().items() if k != "timeout_s"}
    payload: dict[str, Any] = {"spec": spec, "messages": [[m.role, m.content] for m in messages],
                               "settings": settings}
    if config.constraint is not None:  # a constrained and a free answer are different answers
        payload["constraint"] = config.constraint.key
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """The answers of one run folder (safe to share between the sessions of a process and
    between processes: SQLite's write-ahead log and a busy timeout serialise writers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False,
                                     isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(_SCHEMA)
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Completion | None:
        """The stored answer for ``key``, if any."""
        with self._lock:
            row = self._conn.execute("SELECT completion FROM responses WHERE key = ?",
                                     (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        data: dict[str, Any] = json.loads(row[0])
        return Completion(**data)

    def put(self, key: str, spec: str, completion: Completion) -> None:
        """Store an answer (the first one stored for a key wins)."""
        data = json.dumps(dataclasses.asdict(completion), ensure_ascii=False)
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO responses (key, spec, completion) "
                               "VALUES (?, ?, ?)", (key, spec, data))

    def size(self) -> int:
        """How many answers are stored."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()


class CachedBackend(Forwarding):
    """Answers from ``cache`` when it can; otherwise asks ``inner`` (not in replay mode) and
    stores the answer."""

    def __init__(self, inner: Backend, cache: ResponseCache, mode: CacheMode = "use") -> None:
        super().__init__(inner)
        self.cache = cache
        self.mode = mode

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        key = request_key(self.spec, messages, config)
        hit = self.cache.get(key)
        if hit is not None:
            return dataclasses.replace(hit, cached=True, latency_s=0.0, retries=0)
        if self.mode == "replay":
            raise FatalError(f"--replay: {self.spec} was asked something the recorded run "
                             f"never asked (no cached answer for request {key[:12]}); run "
                             "without --replay to call the model")
        completion = await self.inner.generate(messages, config)
        self.cache.put(key, self.spec, completion)
        return completion
