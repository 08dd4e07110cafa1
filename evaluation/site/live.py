"""The live view of a running sweep: ``python main.py report RUN --serve --live``.

The static report is a picture of logs taken once; while a sweep writes into a run folder one
wants to watch its sessions appear and progress. This module keeps a per-file cache of the run
folder's logs (journals of running sessions and finished logs, read through the one loader
``negotiation.logs.reading.load_logs``; a file is re-read only when its mtime, size or inode
changed, so polling a folder of 1,000 sessions every second costs a directory walk and a
``stat`` per file), turns it into two small JSON documents (the run's state, one session's
turns), and serves them with two pages whose script polls them, on 127.0.0.1 only.

Log text (party names, messages) only ever leaves this module as JSON data; the pages' script
writes it with ``textContent`` and the pages themselves hold no log text (their Jinja2
environment autoescapes what little they hold). The pages carry the static report's strict
CSP plus ``connect-src 'self'`` (``render.content_security_policy(..., live=True)``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from markupsafe import Markup

from evaluation.site.render import STATIC, content_security_policy, environment, write_page
from negotiation.core.errors import ConfigError
from negotiation.core.game import Deal, Scoring
from negotiation.core.phases import Phase
from negotiation.core.rules import accepts, score
from negotiation.logs.journal import JOURNAL_SUFFIX
from negotiation.logs.reading import LoadedLog, LogReadError, find_logs, load_logs
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.protocol.progress import total_steps

HOST = "127.0.0.1"
POLL_MS = 1000
RESCAN_S = 10.0
"""The loader's discovery runs again at least this often even when no name changed."""
PAGES = {"index.html": "live_index.html.j2", "session.html": "live_session.html.j2"}
SUFFIXES = (".json", JOURNAL_SUFFIX)
Signature = tuple[int, int, int]


@dataclass
class _Cached:
    """What one file held when it had ``signature`` (mtime_ns, size, inode)."""

    signature: Signature
    entry: LoadedLog | None
    problem: str | None = None
    summary: dict[str, Any] | None = None


def _deal_scores(deal: Deal, scoring: Scoring) -> list[dict[str, Any]]:
    """Every party's score for ``deal`` and whether it clears the party's minimum."""
    return [{"name": p.name, "score": score(deal, p), "minimum": p.minimum,
             "clears": accepts(deal, p)} for p in scoring.parties]


def latest_deal(log: SessionLog) -> TurnRecord | None:
    """The last public turn that proposed a full deal (the session's current deal)."""
    return next((t for t in reversed(log.turns) if t.phase.is_public and t.deal is not None),
                None)


def session_summary(log: SessionLog) -> dict[str, Any]:
    """One session's row of the live state: status, progress, current deal and its scores."""
    scoring, latest = log.scoring(), latest_deal(log)
    scores = {} if latest is None else {s["name"]: s for s in _deal_scores(latest.deal, scoring)}
    parties = [{"name": p.name, "role": p.role, "minimum": p.minimum,
                "score": scores.get(p.name, {}).get("score"),
                "clears": scores.get(p.name, {}).get("clears")} for p in log.parties]
    return {"id": log.session_id, "index": log.session_index, "run": log.run_name,
            "status": log.status, "error": log.error, "turns": len(log.turns),
            "total": total_steps(log), "proposer": log.proposer, "parties": parties,
            "deal": None if latest is None else str(latest.deal),
            "deal_turn": None if latest is None else latest.index,
            "deal_by": None if latest is None else latest.party}


def turn_view(turn: TurnRecord, scoring: Scoring) -> dict[str, Any]:
    """One turn as the session page shows it (the deal with every party's score)."""
    deal = turn.deal if turn.phase.is_public else None
    return {"index": turn.index, "party": turn.party, "speaker": turn.speaker,
            "phase": turn.phase.value, "helper": turn.phase.is_helper, "public": turn.public,
            "scratchpad": turn.scratchpad, "plan": turn.plan, "vote": turn.vote,
            "format_bad": not turn.format_ok and turn.phase is not Phase.MODERATOR,
            "deal": None if deal is None else str(deal),
            "scores": [] if deal is None else _deal_scores(deal, scoring)}


def _order(log: SessionLog) -> tuple[str, int, str]:
    """The loader's order: run name, session index, session id."""
    return log.run_name, log.session_index, log.session_id


def _signature(path: Path) -> Signature | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


class LiveRun:
    """The logs of one run folder, re-read file by file as they change (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.reads = 0
        """Files read so far (a file is read again only after it changed)."""
        self._files: dict[Path, _Cached] = {}
        self._sessions: dict[str, LoadedLog] = {}
        self._listing: tuple[frozenset[str], list[Path], list[str]] | None = None
        self._listed_at = 0.0
        self._problems: list[str] = []
        self._state: bytes = b""
        self._lock = threading.Lock()

    def _read(self, path: Path, signature: Signature) -> None:
        """Read one changed file through the loader (keep the old copy if it just vanished)."""
        self.reads += 1
        loaded = load_logs(path)
        if loaded.entries:
            entry = loaded.entries[0]
            self._files[path] = _Cached(signature, entry, None, session_summary(entry.log))
        elif path.exists():
            self._files[path] = _Cached(signature, None, "; ".join(loaded.problems))
        elif path in self._files:   # compacted meanwhile: the log replaces it on the next poll
            self._files[path].signature = (-1, -1, -1)

    def _scan(self) -> tuple[list[Path], list[str]]:
        """The log files now, by the loader's discovery rules (``find_logs``), which run
        again only when the names of candidate files under the folder changed."""
        if not self.root.is_dir():
            return [], [f"{self.root}: no run folder yet (waiting for the sweep)"]
        names = frozenset(os.path.join(top, n) for top, _, files in os.walk(self.root)
                          for n in files if n.startswith("session-") and n.endswith(SUFFIXES))
        stale = time.monotonic() - self._listed_at > RESCAN_S
        if self._listing is None or self._listing[0] != names or stale:
            problems: list[str] = []
            try:
                found = find_logs(self.root, problems=problems)
            except LogReadError as err:
                found, problems = [], [str(err)]
            self._listing, self._listed_at = (names, found, problems), time.monotonic()
        return self._listing[1], self._listing[2]

    def refresh(self) -> bool:
        """Look at the folder again and re-read the files that changed; whether any did."""
        with self._lock:
            files, problems = self._scan()
            changed = set(self._files) != set(files) or not self._state
            self._files = {p: self._files[p] for p in files if p in self._files}
            for path in files:
                signature = _signature(path)
                cached = self._files.get(path)
                if signature is not None and (cached is None or cached.signature != signature):
                    self._read(path, signature)
                    changed = True
            if changed or problems != self._problems:
                self._index(problems)
            return changed

    def _index(self, problems: list[str]) -> None:
        """Sessions by id (two different files of one id: a conflict, both left out)."""
        self._problems = problems
        by_id: dict[str, list[tuple[LoadedLog, dict[str, Any]]]] = {}
        for c in self._files.values():
            if c.entry is not None and c.summary is not None:
                by_id.setdefault(c.entry.log.session_id, []).append((c.entry, c.summary))
        shown = problems + [c.problem for c in self._files.values() if c.problem]
        kept = []
        for sid, items in by_id.items():
            if len({entry.sha256 for entry, _ in items}) > 1:
                shown.append(f"session {sid}: conflicting copies, left out: "
                             + ", ".join(str(entry.path) for entry, _ in items))
            else:
                kept.append(items[0])
        kept.sort(key=lambda item: _order(item[0].log))
        self._sessions = {entry.log.session_id: entry for entry, _ in kept}
        self._state = _dump({"run": self.root.name, "problems": shown,
                             "sessions": [summary for _, summary in kept]})

    def state_bytes(self) -> bytes:
        """``/live/state.json``: every session's summary and the folder's problems."""
        self.refresh()
        return self._state

    def state(self) -> dict[str, Any]:
        """The state as data."""
        return json.loads(self.state_bytes())

    def session(self, session_id: str, since: int = 0) -> dict[str, Any] | None:
        """``/live/session/<id>.json``: a session's summary and its turns from ``since`` on."""
        self.refresh()
        entry = self._sessions.get(session_id)
        if entry is None:
            return None
        log, scoring = entry.log, entry.log.scoring()
        return {"session": session_summary(log), "count": len(log.turns), "since": since,
                "turns": [turn_view(t, scoring) for t in log.turns[since:]]}


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def live_policy() -> str:
    """The CSP of the live pages: the static report's, plus ``connect-src 'self'``."""
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    return content_security_policy(css, (STATIC / "live.js").read_text(encoding="utf-8"),
                                   live=True)


def write_live_pages(out: Path, run_label: str, poll_ms: int = POLL_MS) -> dict[str, Path]:
    """Render the two live pages into ``out/live/`` (they hold no log data)."""
    env = environment()
    script = Markup((STATIC / "live.js").read_text(encoding="utf-8"))
    return {name: write_page(env, template, out / "live" / name, script=script,
                             policy=live_policy(), run_label=run_label, poll_ms=poll_ms)
            for name, template in PAGES.items()}


class LiveServer(ThreadingHTTPServer):
    """The live view's HTTP server: two pages and two JSON endpoints, nothing else."""

    daemon_threads = True

    def __init__(self, port: int, live: LiveRun, pages: dict[str, Path]) -> None:
        super().__init__((HOST, port), LiveHandler)
        self.live, self.policy = live, live_policy()
        self.pages = {name: path.read_bytes() for name, path in pages.items()}
        bound = self.server_address[1]
        self.hosts = frozenset({f"{HOST}:{bound}", f"localhost:{bound}"})
        self.url = f"http://{HOST}:{bound}/live/"


class LiveHandler(BaseHTTPRequestHandler):
    """GET ``/live/`` (index), ``/live/session.html?id=…``, ``/live/state.json``,
    ``/live/session/<id>.json[?since=N]``; ``/`` redirects to ``/live/``."""

    server: LiveServer
    server_version = "negotiation-live"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the command prints its URL once."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        """Route one request (a Host other than this server's is refused: DNS rebinding)."""
        if self.headers.get("Host") not in self.server.hosts:
            return self._send(HTTPStatus.MISDIRECTED_REQUEST, b"unknown host", "text/plain")
        url = urlsplit(self.path)
        page = {"/live/": "index.html", "/live/index.html": "index.html",
                "/live/session.html": "session.html"}.get(url.path)
        if url.path == "/":
            return self._send(HTTPStatus.FOUND, b"", "text/plain", {"Location": "/live/"})
        if page is not None:
            return self._send(HTTPStatus.OK, self.server.pages[page], "text/html; charset=utf-8",
                              {"Content-Security-Policy": self.server.policy})
        if url.path == "/live/state.json":
            return self._json(self.server.live.state_bytes())
        if url.path.startswith("/live/session/") and url.path.endswith(".json"):
            return self._session(unquote(url.path[len("/live/session/"):-len(".json")]),
                                 url.query)
        return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def _session(self, session_id: str, query: str) -> None:
        since = (parse_qs(query).get("since") or ["0"])[0][:9]
        found = self.server.live.session(session_id, int(since) if since.isdigit() else 0)
        if found is None:
            return self._send(HTTPStatus.NOT_FOUND, b'{"session":null}', "application/json")
        return self._json(_dump(found))

    def _json(self, body: bytes) -> None:
        """JSON with an ETag: a poll that finds nothing new gets 304 and no body."""
        tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("If-None-Match") == tag:
            return self._send(HTTPStatus.NOT_MODIFIED, b"", "", {"ETag": tag})
        return self._send(HTTPStatus.OK, body, "application/json", {"ETag": tag})

    def _send(self, status: HTTPStatus, body: bytes, kind: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": kind, "Content-Length": str(len(body)),
                            "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                            **(headers or {})}.items():
            if value and not (status == HTTPStatus.NOT_MODIFIED and name == "Content-Length"):
                self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)


def make_live_server(run: Path, out: Path, port: int, poll_ms: int = POLL_MS) -> LiveServer:
    """The live view of ``run`` on 127.0.0.1:``port`` (0 picks one), its pages under ``out``."""
    pages = write_live_pages(out, run.name, poll_ms)
    try:
        return LiveServer(port, LiveRun(run), pages)
    except OSError as err:
        raise ConfigError(f"--port {port}: cannot listen on {HOST}: {err.strerror}") from None
