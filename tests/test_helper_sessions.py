"""Sessions with helper seats (a summarizer, a moderator) go through every reader of logs:
evaluate, leaderboard, report, index and every export; helper turns never count as a party's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from negotiation.core.phases import Phase
from negotiation.logs.reading import load_logs
from negotiation_cli import main

HELPERS = {
    "summary": ["--memory", "summary", "--summarizer-model", "scripted:rational",
                "--summary-every", "3"],
    "moderator": ["--order", "moderator", "--moderator-model", "scripted:rational"],
}


@pytest.fixture(scope="module", params=sorted(HELPERS))
def helper_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[str, Path]:
    kind = request.param
    out = tmp_path_factory.mktemp(kind)
    assert main(["--game", "base", "--model", "scripted:planner", "--rounds", "9",
                 "--sessions", "2", "--out", str(out), "--name", kind, "--quiet",
                 *HELPERS[kind]]) == 0
    return kind, out / kind


def test_the_helper_spoke_and_the_session_completed(helper_run: tuple[str, Path]) -> None:
    kind, run = helper_run
    logs = load_logs(run).logs
    assert len(logs) == 2 and all(log.status == "complete" for log in logs)
    phase = Phase.SUMMARY if kind == "summary" else Phase.MODERATOR
    helper = [t for t in logs[0].turns if t.phase is phase]
    assert len(helper) == (3 if kind == "summary" else 9)
    assert all(t.party.startswith("@") and t.format_ok and t.public for t in helper)
    if kind == "moderator":
        assert [t.public for t in helper] == logs[0].order


def test_evaluate_and_leaderboard_read_helper_sessions(helper_run: tuple[str, Path],
                                                       tmp_path: Path) -> None:
    _, run = helper_run
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(run), "--json", str(report)]) == 0
    [entry] = json.loads(report.read_text())["runs"]
    assert entry["n_sessions"] == 2 and entry["n_unfinished"] == 0 and entry["errors"] == []
    assert entry["final_success"]["n"] == 2
    assert main(["leaderboard", str(run)]) == 0


def test_report_and_index_read_helper_sessions(helper_run: tuple[str, Path],
                                               tmp_path: Path) -> None:
    _, run = helper_run
    assert main(["report", str(run), "--out", str(tmp_path / "site")]) == 0
    pages = list((tmp_path / "site").glob("session-*.html"))
    assert len(pages) == 2
    assert main(["index", str(run), "--db", str(tmp_path / "db.sqlite")]) == 0


@pytest.mark.parametrize("fmt", ["ld", "csv", "jsonl", "parquet", "sft", "preference"])
def test_every_export_reads_helper_sessions(helper_run: tuple[str, Path], tmp_path: Path,
                                            fmt: str) -> None:
    _, run = helper_run
    out = tmp_path / fmt
    args = ["export", str(run), "--format", fmt, "--out", str(out)]
    assert main(args + (["--any-outcome"] if fmt in ("sft", "preference") else [])) == 0
    if fmt == "ld":
        history = json.loads(next(out.glob("history_*.json")).read_text())
        assert all(not r["agent"].startswith("@") for r in history["rounds"])
    if fmt == "sft":
        rows = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
        assert rows and all(not r["metadata"]["party"].startswith("@") for r in rows)
