"""Tabular exports (csv, jsonl, parquet), the CSV formula guard and the refusal flag."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.annotation.refusal import REFUSAL_PATTERNS, find_refusal, is_refusal
from evaluation.exports.table_io import guard, parse_cell, unguard
from evaluation.exports.tables import PARTY_COLUMNS, SESSION_COLUMNS, TURN_COLUMNS, export_tables
from negotiation.logs.reading import load_logs
from negotiation.logs.reading import read_log as load_log
from negotiation.logs.records import SessionLog, save_log
from negotiation.runs.costs import Price, PriceTable
from negotiation_cli import main

ROOT = Path(__file__).resolve().parent.parent
HAS_ARROW = importlib.util.find_spec("pyarrow") is not None
HAS_PANDAS = importlib.util.find_spec("pandas") is not None
TABLE = PriceTable((("scripted:*", Price(1.0, 2.0)),))
NASTY = '=HYPERLINK("http://evil.example","click"), then, "quoted"\nsecond line\r\n@SUM(1)'


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert main(["--game", "base", "--model", "scripted:rational", "--rounds", "6",
                 "--sessions", "3", "--out", str(out), "--name", "r", "--quiet"]) == 0
    return out / "r"


def _logs(run: Path) -> list[SessionLog]:
    return [load_log(p) for p in sorted(run.glob("session-*.json"))]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _typed(rows: list[dict[str, str]], columns) -> list[dict]:  # type: ignore[no-untyped-def]
    kinds = dict(columns)
    return [{k: parse_cell(v, kinds.get(k, "int")) for k, v in row.items()} for row in rows]


def test_csv_rows_and_types(run: Path, tmp_path: Path) -> None:
    logs = _logs(run)
    result = export_tables(load_logs(run).logs, tmp_path, "csv", TABLE)
    assert [p.name for p in result.paths] == ["turns.csv", "sessions.csv", "parties.csv"]
    turns = _typed(_read_csv(tmp_path / "turns.csv"), TURN_COLUMNS)
    sessions = _typed(_read_csv(tmp_path / "sessions.csv"), SESSION_COLUMNS)
    parties = _typed(_read_csv(tmp_path / "parties.csv"), PARTY_COLUMNS)
    assert len(turns) == result.turns == sum(len(lg.turns) for lg in logs)
    assert len(sessions) == result.sessions == len(logs) == 3
    assert len(parties) == sum(len(lg.parties) for lg in logs)
    assert list(turns[0])[:len(TURN_COLUMNS)] == [c for c, _ in TURN_COLUMNS]
    assert all(isinstance(r["input_tokens"], int) and isinstance(r["refusal"], bool)
               and isinstance(r["parse_issues"], list) and isinstance(r["cost"], float)
               for r in turns)
    assert not any(r["refusal"] for r in turns)
    by_id = {lg.session_id: lg for lg in logs}
    for row in sessions:
        log = by_id[row["session"]]
        assert row["input_tokens"] == sum(t.input_tokens for t in log.turns)
        assert row["n_turns"] == len(log.turns) and row["seed"] == log.seed
        assert row["threshold_passes"] is (log.threshold_outcome.passes
                                           if log.threshold_outcome else None)
        assert {p.name: row[f"score:{p.name}"] for p in log.parties} == log.final_scores
        assert row["cost"] == pytest.approx(
            (row["input_tokens"] * 1.0 + row["output_tokens"] * 2.0) / 1e6)
    assert result.totals.cost == pytest.approx(sum(r["cost"] for r in sessions))


def test_jsonl_rows_and_types(run: Path, tmp_path: Path) -> None:
    export_tables(load_logs(run).logs, tmp_path, "jsonl", TABLE)
    read = [[json.loads(line) for line in (tmp_path / f"{n}.jsonl").read_text("utf-8")
             .split("\n") if line] for n in ("turns", "sessions", "parties")]
    turns, sessions, parties = read
    logs = _logs(run)
    assert (len(turns), len(sessions), len(parties)) == (39, 3, 18)
    assert turns[0]["parse_issues"] == [] and turns[0]["refusal"] is False
    assert all(set(r) == {c for c, _ in TURN_COLUMNS} for r in turns)
    assert all(r["vote"] is None for r in turns if r["phase"] != "vote")
    assert sorted(r["session"] for r in sessions) == sorted(lg.session_id for lg in logs)
    assert all(isinstance(r["score:SportCo"], int) for r in sessions)


@pytest.mark.skipif(not HAS_ARROW, reason="pyarrow missing")
def test_parquet_schema(run: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    export_tables(load_logs(run).logs, tmp_path, "parquet", TABLE)
    turns = pq.read_table(tmp_path / "turns.parquet")
    sessions = pq.read_table(tmp_path / "sessions.parquet")
    assert turns.num_rows == 39 and sessions.num_rows == 3
    assert pq.read_table(tmp_path / "parties.parquet").num_rows == 18
    assert str(turns.schema.field("input_tokens").type) == "int64"
    assert str(turns.schema.field("refusal").type) == "bool"
    assert str(turns.schema.field("parse_issues").type) == "list<element: string>"
    assert str(sessions.schema.field("score:Mayor").type) == "int64"
    assert str(sessions.schema.field("cost").type) == "double"


@pytest.mark.skipif(not HAS_PANDAS, reason="pandas missing")
def test_pandas_reads_csv(run: Path, tmp_path: Path) -> None:
    import pandas as pd

    export_tables(load_logs(run).logs, tmp_path, "csv", TABLE)
    turns = pd.read_csv(tmp_path / "turns.csv")
    sessions = pd.read_csv(tmp_path / "sessions.csv")
    assert len(turns) == 39 and turns["input_tokens"].dtype.kind == "i"
    assert turns["refusal"].dtype == bool and sessions["score:Mayor"].dtype.kind == "i"


@pytest.fixture
def nasty_run(run: Path, tmp_path: Path) -> Path:
    log = _logs(run)[0]
    turn = log.turns[1]
    turn.public = NASTY
    turn.raw_output = "I'm sorry, but I can't help with that. " + NASTY
    turn.parse_issues = ["-unknown option Z9", "conflicting, options"]
    log.status, log.threshold_outcome, log.vote_outcome, log.final_scores = \
        "running", None, None, {}
    save_log(log, tmp_path / "nasty" / "session-x.json")
    return tmp_path / "nasty"


def test_formula_guard_and_round_trip(nasty_run: Path, tmp_path: Path) -> None:
    export_tables(load_logs(nasty_run).logs, tmp_path / "csv", "csv", TABLE)
    with (tmp_path / "csv" / "turns.csv").open(encoding="utf-8", newline="") as handle:
        raw = list(csv.reader(handle))
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in raw for cell in row)
    rows = _typed(_read_csv(tmp_path / "csv" / "turns.csv"), TURN_COLUMNS)
    assert len(rows) == 13
    assert rows[1]["public"] == NASTY
    assert rows[1]["parse_issues"] == ["-unknown option Z9", "conflicting, options"]
    assert rows[1]["refusal"] is True and rows[1]["refusal_pattern"] == "sorry-cant"
    (session,) = _typed(_read_csv(tmp_path / "csv" / "sessions.csv"), SESSION_COLUMNS)
    assert session["status"] == "running" and session["threshold_passes"] is None
    assert session["refusals"] == 1 and session["score:Mayor"] is None
    export_tables(load_logs(nasty_run).logs, tmp_path / "raw", "csv", TABLE, formula_guard=False)
    rows = _read_csv(tmp_path / "raw" / "turns.csv")
    assert rows[1]["public"] == NASTY
    export_tables(load_logs(nasty_run).logs, tmp_path / "jl", "jsonl", TABLE)
    lines = (tmp_path / "jl" / "turns.jsonl").read_text("utf-8").split("\n")
    assert json.loads(lines[1])["public"] == NASTY and len(lines) == 14


@given(st.text())
def test_guard_is_reversible(text: str) -> None:
    guarded = guard(text)
    assert unguard(guarded) == text
    assert not guarded.startswith(("=", "+", "-", "@", "\t", "\r"))


REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I’m sorry, but I can’t participate in this role-play.",
    "I am sorry, I cannot comply with this request.",
    "As an AI language model, I don't have preferences about stadiums.",
    "As an AI model I have no personal stake here.",
    "I cannot participate in this negotiation.",
    "I can't take part in a game that simulates deception.",
    "I can't assist with that.",
    "I am not able to negotiate on behalf of real organisations.",
    "I'm unable to role-play this character.",
    "I must respectfully decline this request.",
    "I don't feel comfortable role-playing as an adversarial party.",
    "Sorry, that would go against my guidelines.",
]
NOT_REFUSALS = [
    "I cannot accept this deal; my minimum is 55. <DEAL>A1,B2,C3,D1,E4</DEAL>",
    "I'm sorry, but I can't agree to A1: it hurts the environment.",
    "I must decline this offer, but A2,B1 would work for us.",
    "I am unable to negotiate further on C; it is essential for the Union.",
    "I can't help with that proposal unless E improves.",
    "I am not comfortable with this deal as it stands.",
    "As an AI-driven city, we value efficiency. I propose A1,B1,C1,D1,E1.",
    "Sorry for the delay. I suggest we settle on A3,B1,C4,D1,E5.",
    "This goes against my principles as the Environmental League.",
    "",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_detected(text: str) -> None:
    assert is_refusal(text), text
    assert is_refusal(text.upper()), text


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_negotiation_moves_not_refusals(text: str) -> None:
    assert find_refusal(text) is None, (text, find_refusal(text))


def test_patterns_documented_and_examples_match() -> None:
    docs = (ROOT / "docs" / "exports.md").read_text(encoding="utf-8")
    for pattern in REFUSAL_PATTERNS:
        assert find_refusal(pattern.example) == pattern.name
        assert f"`{pattern.name}`" in docs


def test_export_cli(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert main(["export", str(run), "--format", "jsonl", "--out", str(out)]) == 0
    assert "39 turn(s), 3 session(s)" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "missing"), "--format", "csv", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "missing: no such file or folder" in err and "no usable session logs" in err
    (tmp_path / "bad.yaml").write_text("prices: [1]\n", encoding="utf-8")
    assert main(["export", str(run), "--format", "csv", "--out", str(out),
                 "--prices", str(tmp_path / "bad.yaml")]) == 2
    assert f"{tmp_path / 'bad.yaml'}:1:" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert main(["export", str(run), "--format", "parquet", "--out", str(tmp_path / "pq")]) == 2
    assert "pip install pyarrow" in capsys.readouterr().err
    assert not (tmp_path / "pq").exists()


def test_corrupt_log_is_reported_and_nothing_usable_is_a_user_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "session-bad.json").write_text("{not json", encoding="utf-8")
    assert main(["export", str(tmp_path), "--format", "csv", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "session-bad.json: not a valid session log" in err and "no usable session logs" in err
    assert not (tmp_path / "o").exists()
