"""Leaderboard and plots on runs made with the scripted baselines over several seeds."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from evaluation import plots
from evaluation.aggregate import EvalOptions, evaluate_run, summarize
from evaluation.leaderboard import compare, group_members, leaderboard_rows
from evaluation.readers import ReadOptions, read_run
from evaluation.rulesets import get_rules
from negotiation_cli import main

MODELS = ("rational", "greedy", "stubborn")
FIXTURES = Path(__file__).parent / "fixtures" / "eval"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three sessions per scripted policy (same seed, so sessions pair up by index), plus an
    adversarial run (Environmental League as untargeted adversary)."""
    out = tmp_path_factory.mktemp("runs")
    made = {}
    for model in MODELS:
        assert main(["--game", "base", "--model", f"scripted:{model}", "--seed", "5",
                     "--sessions", "3", "--rounds", "6", "--out", str(out), "--name", model,
                     "--quiet"]) == 0
        made[model] = out / model
    assert main(["--game", "base", "--model", "scripted:rational", "--seed", "5", "--sessions",
                 "2", "--rounds", "6", "--incentive", "Environmental League=untargeted_adv",
                 "--out", str(out), "--name", "adversarial", "--quiet"]) == 0
    made["adversarial"] = out / "adversarial"
    return made


def _results(path: Path, rules: str = "default") -> list:
    return evaluate_run(read_run(path, ReadOptions()), EvalOptions(get_rules(rules)))


def test_runs_hold_distinct_sessions(runs: dict[str, Path]) -> None:
    sessions = [r.data for r in _results(runs["rational"])]
    assert len(sessions) == 3
    assert len({s.seed for s in sessions}) == 3
    assert len({tuple(u.party for u in s.utterances) for s in sessions}) > 1  # speaking orders


def test_leaderboard_json(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["leaderboard", *(str(runs[m]) for m in MODELS), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {r["group"]: r for r in data["rows"]}
    assert set(rows) == {f"scripted:{m}" for m in MODELS}
    for row in rows.values():
        assert row["sessions"] == 3 and row["final_success"]["n"] == 3
        assert set(row["final_success"]) == {"k", "n", "rate", "ci95"}
        assert set(row["own_score_by_role"]) == {"p1", "p2", "player", "target"}
        assert row["tokens"]["input"] > 0 and row["format_failure_rate"]["n"] > 0
        assert row["leakage_rate"]["k"] == 0  # scripted negotiators never state scores
    # stubborn p1 always proposes its ideal deal: 100 points
    assert rows["scripted:stubborn"]["own_score_by_role"]["p1"]["mean"] == 100.0
    assert rows["scripted:rational"]["own_score_by_role"]["p1"]["mean"] < 100.0


def test_leaderboard_by_role_and_formats(runs: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(runs[m]) for m in MODELS]
    assert main(["leaderboard", *paths, "--by", "model,role", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 12 and {r["sessions"] for r in rows} == {"3"}
    assert "scripted:greedy / target" in {r["group"] for r in rows}
    assert main(["leaderboard", *paths, "--format", "md"]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0].startswith("| group |") and len(md) == 2 + 3
    assert main(["leaderboard", *paths, "--by", "model,incentive"]) == 0
    assert "scripted:rational / cooperative" in capsys.readouterr().out


def test_compare_with_permutation_test(runs: dict[str, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(runs[m]) for m in MODELS]
    assert main(["leaderboard", *paths, "--compare", "scripted:rational", "scripted:stubborn",
                 "--format", "json"]) == 0
    comparison = json.loads(capsys.readouterr().out)["compare"]
    own = comparison["own_score"]
    assert own["diff"] == pytest.approx(own["a"] - own["b"]) and own["diff"] < 0
    assert 0 < own["p_value"] <= 1 and own["n"] == 3 and comparison["paired"] is False
    assert main(["leaderboard", *paths, "--compare", "scripted:rational", "scripted:stubborn",
                 "--baseline"]) == 0
    text = capsys.readouterr().out
    assert "(paired)" in text and "permutation p =" in text


def test_paired_compare_matches_by_game_seed_and_index(runs: dict[str, Path]) -> None:
    results = _results(runs["rational"]) + _results(runs["stubborn"])
    groups = group_members(results, "model")
    a, b = groups["scripted:rational"], groups["scripted:stubborn"]
    paired = compare(a, b, paired=True, seed=1)
    assert paired["own_score"]["n"] == 3
    # pairing is by key, not by position: reversing one side changes nothing
    assert compare(a, list(reversed(b)), paired=True, seed=1) == paired
    assert compare(a, b[:1], paired=True, seed=1)["own_score"]["n"] == 1


def test_compare_unknown_group(runs: dict[str, Path]) -> None:
    assert main(["leaderboard", str(runs["rational"]), "--compare", "x", "y"]) == 2
    assert main(["leaderboard", str(runs["rational"]), "--baseline"]) == 2


def test_figures_have_data(runs: dict[str, Path]) -> None:
    options = EvalOptions(get_rules("paper"))
    loaded = [(read_run(runs[m], ReadOptions()), m) for m in (*MODELS, "adversarial")]
    entries = [summarize(run, evaluate_run(run, options), options) for run, _ in loaded]
    results = [r for run, _ in loaded for r in evaluate_run(run, options)]
    rows = leaderboard_rows(results)
    success = plots.success_figure(rows)
    assert len(success.axes[0].patches) == 3 * len(rows)
    curves = plots.curves_figure(entries)
    assert len(curves.axes) == 4
    for ax in curves.axes:
        assert len(ax.lines) >= 3 and any(len(line.get_xdata()) >= 2 for line in ax.lines)
    target = plots.target_figure(entries)
    assert target is not None and len(target.axes) == 1 and target.axes[0].lines
    finals = plots.final_scores_figure(entries)
    assert all(len(ax.get_xticklabels()) == 6 for ax in finals.axes)
    assert plots.target_figure(entries[:1]) is None
    fixture_run = read_run(FIXTURES / "native", ReadOptions())
    rows = leaderboard_rows(evaluate_run(fixture_run, options))
    heights = [p.get_height() for p in plots.success_figure(rows).axes[0].patches]
    assert max(heights) == 1.0  # any success 2/2 in the fixture run


def test_plot_command_writes_png_and_svg(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "figures"
    assert main(["plot", *(str(runs[m]) for m in (*MODELS, "adversarial")),
                 "--out", str(out)]) == 0
    names = {"success_rates", "score_curves", "final_scores", "target_scores"}
    for name in names:
        png, svg = out / f"{name}.png", out / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert "<svg" in svg.read_text()[:500] and svg.stat().st_size > 5000
    assert main(["plot", str(tmp_path / "none"), "--out", str(out)]) == 2


def test_adversarial_run_metrics(runs: dict[str, Path]) -> None:
    results = _results(runs["adversarial"], "paper")
    assert all(r.metrics.adversaries == ("Environmental League",) for r in results)
    assert all(r.metrics.target == "Local Labour Union" for r in results)
    assert all(r.metrics.adversarial_success is not None for r in results)


@pytest.mark.parametrize("rules", ["default", "paper"])
def test_native_and_exported_ld_history_agree(runs: dict[str, Path], tmp_path: Path,
                                              rules: str) -> None:
    assert main(["export", str(runs["rational"]), "--format", "ld", "--out",
                 str(tmp_path / "ld")]) == 0
    native = {r.data.source.stem.removeprefix("session-"): r.metrics
              for r in _results(runs["rational"], rules)}
    exported = {r.data.source.stem.removeprefix("history_"): r.metrics
                for r in _results(tmp_path / "ld", rules)}
    assert native.keys() == exported.keys() and len(native) == 3
    for key, m in native.items():
        e = exported[key]
        assert (m.final_success, m.unanimous_success, m.any_success, m.n_deals, m.n_wrong) == \
            (e.final_success, e.unanimous_success, e.any_success, e.n_deals, e.n_wrong)
        assert (m.own_curve, m.collective_curve, m.final_deal) == \
            (e.own_curve, e.collective_curve, e.final_deal)
