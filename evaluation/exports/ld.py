"""Export native session logs to the paper code's ``history_*.json`` layout.

So that the paper's own notebooks can read our runs: ``rounds`` holds p1's opening, the
discussion turns and p1's final proposal (votes are not in it), ``slot_assignment`` the
speakers of the discussion turns, ``finished_rounds`` = len(rounds) - 1, and ``plan`` the
plans per party. A ``config.txt`` and ``scores_files/`` are written beside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation.logs.records import SessionLog, load_log, write_atomic


def session_files(target: Path) -> list[Path]:
    """Session logs under a run folder (recursively), or the one file given."""
    if target.is_file():
        return [target]
    files = sorted(target.rglob("session-*.json"))
    if not files:
        raise ConfigError(f"{target}: no session-*.json logs found")
    return files


def to_history(log: SessionLog) -> dict[str, Any]:
    """One session in the paper's history format."""
    turns = [t for t in log.turns if t.phase != "vote"]
    initial = {p.name: p.initial_prompt for p in log.parties}
    rounds = [{"agent": t.party, "prompt": initial[t.party] + "\n" + t.prompt,
               "full_answer": t.raw_output, "public_answer": t.public} for t in turns]
    plan: dict[str, list[str]] = {p.name: [] for p in log.parties}
    for t in turns:
        if t.plan:
            plan[t.party].append(t.plan)
    return {"slot_assignment": list(log.order), "rounds": rounds, "plan": plan,
            "finished_rounds": max(len(rounds) - 1, 0)}


def _write_game(log: SessionLog, out: Path) -> None:
    lines = [f"{p.name},{p.file_name},{p.role},{p.incentive},{p.model}" for p in log.parties]
    write_atomic(out / "config.txt", "\n".join(lines) + "\n")
    for p in log.parties:
        rows = [", ".join(str(v) for v in row) for row in p.scores] + [str(p.minimum)]
        write_atomic(out / "scores_files" / f"{p.file_name}.txt", "\n".join(rows) + "\n")


def export_ld(target: Path, out: Path) -> list[Path]:
    """Write ``history_<id>.json`` per session plus the game's config and score files."""
    logs = [load_log(f) for f in session_files(target)]
    games = {(lg.game.name, lg.game.content_hash) for lg in logs}
    if len(games) > 1:
        raise ConfigError(f"{target}: sessions of several games; export one game at a time")
    written = []
    for log in logs:
        path = out / f"history_{log.session_id}.json"
        write_atomic(path, json.dumps(to_history(log), indent=1) + "\n")
        written.append(path)
    _write_game(logs[0], out)
    return written
