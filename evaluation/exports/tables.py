"""Tabular exports of session logs: one row per turn, per session and per (session, party).

``export_tables`` writes ``turns.<fmt>``, ``sessions.<fmt>`` and ``parties.<fmt>`` (fmt: csv,
jsonl or parquet, see ``evaluation.exports.table_io``) under an output folder. Columns are listed in
``TURN_COLUMNS``, ``SESSION_COLUMNS`` and ``PARTY_COLUMNS`` (documented in ``docs/exports.md``).
Final scores are both wide (``score:<party>`` columns of the session table, one per party name
seen in the run, empty where a session has no such party or no final deal) and long (the
``final_score`` column of the party table, the pandas-friendly form for group-bys).
Costs come from a price table (``negotiation.runs.costs``); an unpriced model gives an empty cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evaluation.annotation.refusal import find_refusal
from evaluation.exports.table_io import Columns, Row, require_pyarrow, write_table
from negotiation.core.game import deal_text
from negotiation.core.phases import Phase
from negotiation.core.rules import Outcome
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.runs.costs import CostTotals, PriceTable, cost_of, run_cost, session_cost

TURN_COLUMNS: Columns = (
    ("run", "str"), ("session", "str"), ("session_index", "int"), ("game", "str"),
    ("party", "str"), ("role", "str"), ("incentive", "str"), ("model", "str"),
    ("phase", "str"), ("turn", "int"), ("public", "str"), ("deal", "str"), ("vote", "str"),
    ("own_score", "int"), ("format_ok", "bool"), ("input_tokens", "int"),
    ("output_tokens", "int"), ("cost", "float"), ("latency_s", "float"),
    ("finish_reason", "str"), ("retries", "int"), ("parse_issues", "list"),
    ("refusal", "bool"), ("refusal_pattern", "str"))
SESSION_COLUMNS: Columns = (
    ("run", "str"), ("session", "str"), ("session_index", "int"), ("game", "str"),
    ("status", "str"), ("error", "str"), ("seed", "int"), ("rounds", "int"), ("window", "int"),
    ("vote_phase", "bool"), ("n_parties", "int"), ("n_turns", "int"), ("proposer", "str"),
    ("final_deal", "str"), ("threshold_passes", "bool"), ("threshold_unanimous", "bool"),
    ("vote_passes", "bool"), ("vote_unanimous", "bool"), ("outcomes_differ", "bool"),
    ("input_tokens", "int"), ("output_tokens", "int"), ("cost", "float"),
    ("cost_unknown_models", "list"), ("refusals", "int"))
PARTY_COLUMNS: Columns = (
    ("run", "str"), ("session", "str"), ("session_index", "int"), ("game", "str"),
    ("party", "str"), ("role", "str"), ("incentive", "str"), ("model", "str"),
    ("minimum", "int"), ("final_score", "int"), ("threshold_accepts", "bool"), ("vote", "str"),
    ("vote_accepts", "bool"), ("turns", "int"), ("input_tokens", "int"),
    ("output_tokens", "int"), ("cost", "float"), ("refusals", "int"))
SCORE_PREFIX = "score:"


@dataclass(frozen=True)
class ExportResult:
    """What ``export_tables`` wrote."""

    paths: tuple[Path, ...]
    turns: int
    sessions: int
    parties: int
    totals: CostTotals


def _ids(log: SessionLog) -> Row:
    return {"run": log.run_name, "session": log.session_id,
            "session_index": log.session_index, "game": log.game.name}


def turn_row(log: SessionLog, turn: TurnRecord, table: PriceTable) -> Row:
    """One turn as a row of ``TURN_COLUMNS``."""
    party = next((p for p in log.parties if p.name == turn.party), None)
    model = party.model if party else ""
    pattern = find_refusal(turn.raw_output)
    return {**_ids(log), "party": turn.party, "role": party.role if party else None,
            "incentive": party.incentive if party else None, "model": model or None,
            "phase": turn.phase, "turn": turn.index, "public": turn.public,
            "deal": deal_text(turn.deal),
            "vote": turn.vote, "own_score": turn.own_score, "format_ok": turn.format_ok,
            "input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens,
            "cost": cost_of(model, turn.input_tokens, turn.output_tokens, table),
            "latency_s": turn.latency_s, "finish_reason": turn.finish_reason or None,
            "retries": turn.retries, "parse_issues": list(turn.parse_issues),
            "refusal": pattern is not None, "refusal_pattern": pattern}


def _outcome(prefix: str, outcome: Outcome | None) -> Row:
    return {f"{prefix}_passes": outcome.passes if outcome else None,
            f"{prefix}_unanimous": outcome.unanimous if outcome else None}


def session_row(log: SessionLog, table: PriceTable) -> Row:
    """One session as a row of ``SESSION_COLUMNS`` plus its ``score:<party>`` columns."""
    totals = session_cost(log, table)
    refusals = sum(1 for t in log.turns if find_refusal(t.raw_output))
    row: Row = {**_ids(log), "status": log.status, "error": log.error, "seed": log.seed,
                "rounds": log.rounds, "window": log.window, "vote_phase": log.vote,
                "n_parties": len(log.parties), "n_turns": len(log.turns),
                "proposer": log.proposer, "final_deal": deal_text(log.final_deal),
                **_outcome("threshold", log.threshold_outcome),
                **_outcome("vote", log.vote_outcome), "outcomes_differ": log.outcomes_differ,
                "input_tokens": totals.input_tokens, "output_tokens": totals.output_tokens,
                "cost": totals.cost, "cost_unknown_models": totals.unknown_models,
                "refusals": refusals}
    for name, score in log.final_scores.items():
        row[SCORE_PREFIX + name] = score
    return row


def _accepts(outcome: Outcome | None, name: str) -> bool | None:
    return None if outcome is None else name in outcome.accepting


def party_rows(log: SessionLog, table: PriceTable) -> list[Row]:
    """One row of ``PARTY_COLUMNS`` per party of the session."""
    usage = session_cost(log, table).by_party
    rows = []
    for party in log.parties:
        turns = [t for t in log.turns if t.party == party.name]
        votes = [t.vote for t in turns if t.phase is Phase.VOTE]
        used = usage.get(party.name)
        rows.append({**_ids(log), "party": party.name, "role": party.role,
                     "incentive": party.incentive, "model": party.model,
                     "minimum": party.minimum, "final_score": log.final_scores.get(party.name),
                     "threshold_accepts": _accepts(log.threshold_outcome, party.name),
                     "vote": votes[-1] if votes else None,
                     "vote_accepts": _accepts(log.vote_outcome, party.name),
                     "turns": len(turns), "input_tokens": used.input_tokens if used else 0,
                     "output_tokens": used.output_tokens if used else 0,
                     "cost": used.cost if used else 0.0,
                     "refusals": sum(1 for t in turns if find_refusal(t.raw_output))})
    return rows


def score_columns(logs: Sequence[SessionLog]) -> Columns:
    """``score:<party>`` columns for every party name in ``logs``, in order of appearance."""
    names: dict[str, None] = {}
    for log in logs:
        names.update((p.name, None) for p in log.parties)
    return tuple((SCORE_PREFIX + name, "int") for name in names)


def export_tables(logs: Sequence[SessionLog], out: Path, fmt: str, table: PriceTable,
                  formula_guard: bool = True) -> ExportResult:
    """Write ``turns``, ``sessions`` and ``parties`` tables of ``logs``."""
    if fmt == "parquet":
        require_pyarrow()
    turns = [turn_row(log, t, table) for log in logs for t in log.turns]
    sessions = [session_row(log, table) for log in logs]
    parties = [row for log in logs for row in party_rows(log, table)]
    session_cols = (*SESSION_COLUMNS, *score_columns(logs))
    paths = tuple(write_table(rows, cols, out / stem, fmt, formula_guard)
                  for stem, rows, cols in (("turns", turns, TURN_COLUMNS),
                                           ("sessions", sessions, session_cols),
                                           ("parties", parties, PARTY_COLUMNS)))
    return ExportResult(paths, len(turns), len(sessions), len(parties), run_cost(logs, table))
