"""Export native session logs to the paper code's ``history_*.json`` layout.

So that the paper's own notebooks can read our runs: ``rounds`` holds p1's opening, the
discussion turns and p1's final proposal (votes are not in it), ``slot_assignment`` the
speakers of the discussion turns, ``finished_rounds`` = len(rounds) - 1, and ``plan`` the
plans per party. A ``config.txt`` and ``scores_files/`` are written beside them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation.logs.records import SessionLog, write_atomic
from negotiation.logs.safe_names import safe_component


def to_history(log: SessionLog) -> dict[str, Any]:
    """One session in the paper's history format."""
    turns = [t for t in log.turns if t.phase.is_public]
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
        name = safe_component(p.file_name, f"file name of party {p.name!r}")
        write_atomic(out / "scores_files" / f"{name}.txt", "\n".join(rows) + "\n")


def export_ld(logs: Sequence[SessionLog], out: Path) -> list[Path]:
    """Write ``history_<id>.json`` per session plus the game's config and score files."""
    games = {(lg.game.name, lg.game.content_hash) for lg in logs}
    if len(games) > 1:
        raise ConfigError("sessions of several games; export one game at a time")
    written = []
    for log in logs:
        path = out / f"history_{safe_component(log.session_id, 'session id')}.json"
        write_atomic(path, json.dumps(to_history(log), indent=1) + "\n")
        written.append(path)
    _write_game(logs[0], out)
    return written
