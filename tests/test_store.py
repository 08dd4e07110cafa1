"""The SQLite results store: counts equal the logs, idempotent upserts, updates of advanced
sessions, and SQL aggregates equal to the same figures computed from the logs."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from evaluation.results_store import DB_NAME, SCHEMA, index_paths, leaderboard_rows, table_counts
from negotiation.logs.reading import read_log as load_log
from negotiation_cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs" / "extensions.md"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs: 3 sessions with votes, 2 with p1 on another model and no vote."""
    out = tmp_path_factory.mktemp("logs")
    assert main(["--game", "base", "--model", "scripted:rational", "--rounds", "6",
                 "--sessions", "3", "--out", str(out), "--name", "a", "--quiet"]) == 0
    assert main(["--game", "base", "--model", "scripted:rational", "--party-model",
                 "SportCo=scripted:greedy", "--rounds", "4", "--sessions", "2", "--no-vote",
                 "--out", str(out), "--name", "b", "--quiet"]) == 0
    return out


def logs_of(folder: Path) -> list[Any]:
    return [load_log(f) for f in sorted(folder.rglob("session-*.json"))]


def copy_runs(runs: Path, tmp: Path) -> Path:
    target = tmp / "logs"
    shutil.copytree(runs, target, ignore=shutil.ignore_patterns("*.sqlite"))
    return target


def test_counts_equal_logs_and_reindexing_is_idempotent(runs: Path, tmp_path: Path) -> None:
    folder = copy_runs(runs, tmp_path)
    logs = logs_of(folder)
    first = index_paths([folder])
    assert first.db == folder / DB_NAME and first.updated == 5 and not first.errors
    expected = {"sessions": len(logs), "parties": sum(len(lg.parties) for lg in logs),
                "turns": sum(len(lg.turns) for lg in logs)}
    assert table_counts(first.db) == expected
    again = index_paths([folder / "a", folder / "b"], first.db)
    assert again.updated == 0 and again.unchanged == 5
    for log in logs:  # a changed file is replaced, not duplicated
        path = next(folder.rglob(f"session-{log.session_id}.json"))
        path.write_text(path.read_text() + "\n")
    assert index_paths([folder]).updated == 5
    assert table_counts(first.db) == expected


def test_advanced_session_is_updated(runs: Path, tmp_path: Path) -> None:
    folder = copy_runs(runs, tmp_path)
    path = next((folder / "a").glob("session-*.json"))
    full = path.read_text()
    data = json.loads(full)
    data.update(turns=data["turns"][:3], status="running", final_deal=None,
                threshold_outcome=None, vote_outcome=None, outcomes_differ=None, final_scores={})
    path.write_text(json.dumps(data))
    db = tmp_path / "store.sqlite"
    index_paths([path], db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, n_turns, final_passes FROM sessions").fetchall() == [
            ("running", 3, None)]
        assert conn.execute("SELECT COUNT(*) FROM turns").fetchone() == (3,)
    path.write_text(full)
    assert index_paths([path], db).updated == 1
    n_turns = len(json.loads(full)["turns"])
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, n_turns FROM sessions").fetchall() == [
            ("complete", n_turns)]
        assert conn.execute("SELECT COUNT(*) FROM turns").fetchone() == (n_turns,)
        assert conn.execute("SELECT COUNT(*) FROM parties WHERE final_score IS NULL"
                            ).fetchone() == (0,)


def test_sql_aggregates_equal_figures_from_logs(runs: Path, tmp_path: Path) -> None:
    folder = copy_runs(runs, tmp_path)
    logs = logs_of(folder)
    db = index_paths([folder]).db
    with sqlite3.connect(db) as conn:
        tokens = conn.execute("SELECT SUM(input_tokens), SUM(output_tokens) FROM turns"
                              ).fetchone()
        mayor = conn.execute("SELECT AVG(final_score) FROM parties WHERE name = 'Mayor'"
                             ).fetchone()[0]
        deals = conn.execute("SELECT COUNT(*) FROM turns WHERE deal IS NOT NULL").fetchone()[0]
        rejects = conn.execute("SELECT COUNT(*) FROM turns WHERE vote = 'REJECT'").fetchone()[0]
    assert tokens == (sum(t.input_tokens for lg in logs for t in lg.turns),
                      sum(t.output_tokens for lg in logs for t in lg.turns))
    assert mayor == pytest.approx(sum(lg.final_scores["Mayor"] for lg in logs) / len(logs))
    assert deals == sum(t.deal is not None for lg in logs for t in lg.turns)
    assert rejects == sum(t.vote == "REJECT" for lg in logs for t in lg.turns)
    rows = {r["group"]: r for r in leaderboard_rows(db, "model")}
    for model in ("scripted:rational", "scripted:greedy"):
        mine = [lg for lg in logs if lg.parties[0].model == model]
        assert rows[model]["sessions"] == len(mine)
        assert rows[model]["final_success"] == sum(lg.threshold_outcome.passes for lg in mine)
        assert rows[model]["mean_own_score"] == pytest.approx(
            sum(lg.final_scores["SportCo"] for lg in mine) / len(mine))
    by_role = {r["group"]: r for r in leaderboard_rows(db, "model,role")}
    assert by_role["scripted:rational / player"]["sessions"] == len(logs)
    assert by_role["scripted:greedy / p1"]["sessions"] == 2


def test_store_agrees_with_the_evaluation_leaderboard(runs: Path, tmp_path: Path) -> None:
    from evaluation.aggregate import EvalOptions, evaluate_run
    from evaluation.leaderboard import leaderboard_rows as eval_rows
    from evaluation.readers import ReadOptions, read_run
    from evaluation.rulesets import get_rules

    folder = copy_runs(runs, tmp_path)
    db = index_paths([folder]).db
    results = evaluate_run(read_run(folder, ReadOptions()), EvalOptions(get_rules("default")))
    expected = {r["group"]: r for r in eval_rows(results, "model")}
    rows = leaderboard_rows(db, "model")
    assert {r["group"] for r in rows} == set(expected)
    for row in rows:
        assert row["sessions"] == expected[row["group"]]["sessions"]
        assert row["final_success"] == expected[row["group"]]["final_success"]["k"]


def test_cli_index_and_unreadable_logs(runs: Path, tmp_path: Path, capsys: Any) -> None:
    folder = copy_runs(runs, tmp_path)
    (folder / "a" / "session-broken.json").write_text("{}")
    db = tmp_path / "x.sqlite"
    assert main(["index", str(folder / "a"), str(folder / "b"), "--db", str(db),
                 "--leaderboard"]) == 0  # a broken log is reported and skipped
    out = capsys.readouterr()
    assert "5 updated" in out.out and "scripted:greedy: 2 session(s)" in out.out
    assert "session-broken.json: not a valid session log" in out.err
    assert main(["index", str(tmp_path / "missing")]) == 2
    assert main(["index", str(folder), "--leaderboard", "nope"]) == 2


def test_schema_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for table in ("sessions", "parties", "turns"):
        assert f"CREATE TABLE IF NOT EXISTS {table}" in SCHEMA
        assert f"`{table}`" in text
    for column in ("log_sha256", "final_passes", "accepts_final", "own_score", "p1_model"):
        assert f"`{column}`" in text
