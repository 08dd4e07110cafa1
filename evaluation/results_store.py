"""The results store: session logs indexed into an embedded SQLite database (stdlib sqlite3).

``index_paths`` reads every ``session-*.json`` under the given runs and upserts it: one
transaction per session replaces its ``sessions`` row and all of its ``parties`` and ``turns``
rows, keyed by ``session_id``. Re-indexing the same logs gives the same rows; a log whose bytes
did not change (SHA-256 in ``sessions.log_sha256``) is skipped; one that advanced (more turns,
completed) is replaced. The schema (``SCHEMA``, documented in docs/extensions.md) keeps the
per-turn prompt out (it is in the log, at ``sessions.path``) so thousands of sessions stay
small. ``leaderboard_rows`` is the grouped query the leaderboard can read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation.core.game import deal_text
from negotiation.core.phases import Phase
from negotiation.logs.clock import now_iso
from negotiation.logs.reading import LoadedLog, load_logs
from negotiation.runs.lock import run_lock
from negotiation.logs.records import SessionLog

SCHEMA_VERSION = 1
DB_NAME = "results.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY, run_name TEXT NOT NULL, session_index INTEGER NOT NULL,
  path TEXT NOT NULL, log_sha256 TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
  game TEXT NOT NULL, game_hash TEXT NOT NULL, proposer TEXT NOT NULL, p1_model TEXT NOT NULL,
  seed INTEGER NOT NULL, rounds INTEGER NOT NULL, history_window INTEGER NOT NULL,
  vote INTEGER NOT NULL, order_policy TEXT NOT NULL, memory TEXT NOT NULL,
  n_turns INTEGER NOT NULL, final_deal TEXT, final_passes INTEGER, final_unanimous INTEGER,
  vote_passes INTEGER, vote_unanimous INTEGER, outcomes_differ INTEGER,
  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  created_at TEXT, updated_at TEXT, indexed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parties (
  session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
  name TEXT NOT NULL, position INTEGER NOT NULL, file_name TEXT NOT NULL, role TEXT NOT NULL,
  incentive TEXT NOT NULL, model TEXT NOT NULL, minimum INTEGER NOT NULL,
  final_score INTEGER, accepts_final INTEGER, vote TEXT,
  PRIMARY KEY (session_id, name));
CREATE TABLE IF NOT EXISTS turns (
  session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
  turn INTEGER NOT NULL, party TEXT NOT NULL, phase TEXT NOT NULL, public TEXT NOT NULL,
  raw_output TEXT NOT NULL, scratchpad TEXT NOT NULL, plan TEXT NOT NULL, deal TEXT,
  vote TEXT, own_score INTEGER, format_ok INTEGER NOT NULL, repairs INTEGER NOT NULL,
  parse_issues INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  latency_s REAL NOT NULL, finish_reason TEXT NOT NULL, model_id TEXT NOT NULL,
  retries INTEGER NOT NULL,
  PRIMARY KEY (session_id, turn));
CREATE INDEX IF NOT EXISTS sessions_run ON sessions(run_name, session_index);
CREATE INDEX IF NOT EXISTS sessions_model ON sessions(p1_model, game);
CREATE INDEX IF NOT EXISTS parties_model ON parties(model, role);
"""
GROUPINGS: dict[str, tuple[str, ...]] = {
    "model": ("s.p1_model",), "model,game": ("s.p1_model", "s.game"),
    "model,role": ("p.model", "p.role"), "model,incentive": ("p.model", "p.incentive")}


@dataclass
class IndexResult:
    """What ``index_paths`` did."""

    db: Path
    files: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def default_db(runs: Sequence[Path]) -> Path:
    """``<first RUN folder>/results.sqlite`` (a session file's folder when given a file)."""
    if not runs:
        raise ConfigError("index needs at least one run folder or session file")
    first = runs[0]
    return (first.parent if first.is_file() else first) / DB_NAME


@contextmanager
def connect(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection with the schema created and foreign keys on; closed afterwards."""
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(SCHEMA)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                     (str(SCHEMA_VERSION),))
        conn.commit()
        yield conn
    finally:
        conn.close()


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def session_row(log: SessionLog, path: Path, digest: str) -> dict[str, Any]:
    """The ``sessions`` row of a log."""
    p1 = next((p.model for p in log.parties if p.name == log.proposer), "")
    final, vote = log.threshold_outcome, log.vote_outcome
    return {
        "session_id": log.session_id, "run_name": log.run_name,
        "session_index": log.session_index, "path": str(path.resolve()), "log_sha256": digest,
        "status": log.status, "error": log.error, "game": log.game.name,
        "game_hash": log.game.content_hash, "proposer": log.proposer, "p1_model": p1,
        "seed": log.seed, "rounds": log.rounds, "history_window": log.window,
        "vote": int(log.vote), "order_policy": log.order_policy, "memory": log.memory,
        "n_turns": len(log.turns), "final_deal": deal_text(log.final_deal),
        "final_passes": _flag(final.passes if final else None),
        "final_unanimous": _flag(final.unanimous if final else None),
        "vote_passes": _flag(vote.passes if vote else None),
        "vote_unanimous": _flag(vote.unanimous if vote else None),
        "outcomes_differ": _flag(log.outcomes_differ),
        "input_tokens": sum(t.input_tokens for t in log.turns),
        "output_tokens": sum(t.output_tokens for t in log.turns),
        "created_at": log.created_at, "updated_at": log.updated_at, "indexed_at": now_iso()}


def party_rows(log: SessionLog) -> list[dict[str, Any]]:
    """The ``parties`` rows of a log."""
    accepting = set(log.threshold_outcome.accepting) if log.threshold_outcome else set()
    votes = {t.party: t.vote for t in log.turns if t.phase is Phase.VOTE}
    return [{"session_id": log.session_id, "name": p.name, "position": i,
             "file_name": p.file_name, "role": p.role, "incentive": p.incentive,
             "model": p.model, "minimum": p.minimum, "final_score": log.final_scores.get(p.name),
             "accepts_final": int(p.name in accepting) if log.threshold_outcome else None,
             "vote": votes.get(p.name)} for i, p in enumerate(log.parties)]


def turn_rows(log: SessionLog) -> list[dict[str, Any]]:
    """The ``turns`` rows of a log."""
    return [{"session_id": log.session_id, "turn": t.index, "party": t.party,
             "phase": t.phase, "public": t.public, "raw_output": t.raw_output,
             "scratchpad": t.scratchpad, "plan": t.plan, "deal": deal_text(t.deal), "vote": t.vote,
             "own_score": t.own_score, "format_ok": int(t.format_ok),
             "repairs": len(t.repairs), "parse_issues": len(t.parse_issues),
             "input_tokens": t.input_tokens, "output_tokens": t.output_tokens,
             "latency_s": t.latency_s, "finish_reason": t.finish_reason,
             "model_id": t.model_id, "retries": t.retries} for t in log.turns]


def _insert(conn: sqlite3.Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        names = list(rows[0])
        conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                         f"({', '.join(':' + n for n in names)})", rows)


def upsert_session(conn: sqlite3.Connection, log: SessionLog, path: Path, digest: str) -> None:
    """Replace one session's rows (one transaction)."""
    row = session_row(log, path, digest)
    updates = ", ".join(f"{k} = excluded.{k}" for k in row if k != "session_id")
    with conn:
        conn.execute(f"INSERT INTO sessions ({', '.join(row)}) VALUES "
                     f"({', '.join(':' + k for k in row)}) ON CONFLICT(session_id) DO UPDATE "
                     f"SET {updates}", row)
        conn.execute("DELETE FROM parties WHERE session_id = ?", (log.session_id,))
        conn.execute("DELETE FROM turns WHERE session_id = ?", (log.session_id,))
        _insert(conn, "parties", party_rows(log))
        _insert(conn, "turns", turn_rows(log))


def _index_log(conn: sqlite3.Connection, item: LoadedLog, result: IndexResult) -> None:
    stored = conn.execute("SELECT log_sha256 FROM sessions WHERE session_id = ?",
                          (item.log.session_id,)).fetchone()
    if stored is not None and stored[0] == item.sha256:
        result.unchanged += 1
        return
    upsert_session(conn, item.log, item.path, item.sha256)
    result.updated += 1


def index_paths(runs: Sequence[Path], db: Path | None = None) -> IndexResult:
    """Index every usable session log under ``runs`` into ``db`` (default: ``default_db``);
    unusable files are reported in ``errors`` and skipped. When the store lies in a run folder
    (the default), that folder is locked first, as for every command that writes into one."""
    target = db or default_db(runs)
    folder = target.parent
    locked = run_lock(folder) if any(_same(folder, r) for r in runs) else nullcontext()
    with locked:
        found = load_logs(runs)
        result = IndexResult(target, files=found.files, errors=found.problems)
        with connect(result.db) as conn:
            for item in found.entries:
                _index_log(conn, item, result)
    return result


def _same(folder: Path, run: Path) -> bool:
    run = run.parent if run.is_file() else run
    return run.exists() and folder.resolve() == run.resolve()


def table_counts(db: Path) -> dict[str, int]:
    """Rows per table."""
    with connect(db) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("sessions", "parties", "turns")}


def leaderboard_rows(db: Path, by: str = "model") -> list[dict[str, Any]]:
    """Per group of complete sessions: sessions, final / unanimous successes, mean own score.

    Groups as in ``evaluation.leaderboard``: ``model`` and ``model,game`` use p1's model (own
    score = p1's final score); ``model,role`` and ``model,incentive`` use every party's own model
    (a session counts once per group one of its parties belongs to; own score = the mean final
    score of the group's parties). Success is the rules-core threshold outcome of the log.
    """
    if by not in GROUPINGS:
        raise ConfigError(f"--by must be one of {', '.join(GROUPINGS)}")
    keys = GROUPINGS[by]
    join = "p.name = s.proposer" if by in ("model", "model,game") else "1"
    label = " || ' / ' || ".join(keys)
    sql = (f"SELECT {label} AS grp, COUNT(DISTINCT s.session_id), "
           f"COUNT(DISTINCT CASE WHEN s.final_passes = 1 THEN s.session_id END), "
           f"COUNT(DISTINCT CASE WHEN s.final_unanimous = 1 THEN s.session_id END), "
           f"AVG(p.final_score) FROM sessions s JOIN parties p ON p.session_id = s.session_id "
           f"AND {join} WHERE s.status = 'complete' GROUP BY {', '.join(keys)} ORDER BY grp")
    with connect(db) as conn:
        return [{"group": g, "sessions": n, "final_success": k, "unanimous_success": u,
                 "final_success_rate": k / n if n else None, "mean_own_score": mean}
                for g, n, k, u, mean in conn.execute(sql)]
