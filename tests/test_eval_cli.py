"""``evaluate`` end to end on the fixtures: the JSON contract, CSV, exit statuses, baseline."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from negotiation_cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
GAME = str(FIXTURES / "game_cases4")
RATE_KEYS = {"k", "n", "rate", "ci95"}


def evaluate(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "eval.json"
    code = main(["evaluate", *args, "--json", str(out)])
    return code, json.loads(out.read_text()) if out.exists() else {}


def kn(value: dict[str, Any]) -> tuple[int, int]:
    return value["k"], value["n"]


@pytest.mark.parametrize("rules,expected", [
    # (final, unanimous, any) as (k, n); wrong-deal ratio mean; hand-computed in
    # tests/fixtures/eval: native = session aaaa (A2 | A4 by Delta | A3 by Beta | final A9,
    # Beta exactly 50) and session cccc (A1 | "A3, B4" | A1,B2 | final without a deal).
    ("default", ((1, 2), (1, 2), (2, 2), (0.5 + 0.0) / 2)),
    ("paper", ((0, 2), (0, 2), (2, 2), (0.25 + 0.5) / 2)),
])
def test_native_contract(tmp_path: Path, rules: str, expected: tuple[Any, ...]) -> None:
    code, data = evaluate(tmp_path, str(FIXTURES / "native"), "--rules", rules)
    assert code == 0
    (run,) = data["runs"]
    assert run["format"] == "native" and run["rules"] == rules
    assert run["n_sessions"] == 2 and run["n_unfinished"] == 1 and run["errors"] == []
    final, unanimous, any_, wrong = expected
    for key, value in (("final_success", final), ("unanimous_success", unanimous),
                       ("any_success", any_)):
        assert set(run[key]) == RATE_KEYS and kn(run[key]) == value
        lo, hi = run[key]["ci95"]
        assert 0 <= lo <= run[key]["rate"] <= hi <= 1
    assert run["wrong_deal_ratio"]["mean"] == pytest.approx(wrong)
    assert kn(run["vote_success"]) == (1, 1)   # the engine's vote outcome of session aaaa
    fidelity = run["score_fidelity"]
    assert kn(fidelity["arithmetic_accuracy"]) == (2, 3)  # "A4,B1 gives me 45" is wrong (40)
    assert kn(fidelity["vote_consistency"]) == (2, 3)      # Gamma rejects at 60 > 50
    assert kn(fidelity["format_failure"]) == (1, 12)       # 8 outputs + 4 outputs
    leak = run["leakage"]["detector"]
    assert kn(leak["messages"]) == (1, 9)                  # "… gives me 40 points"
    assert kn(leak["per_party"]["Delta Union"]) == (1, 1)
    assert kn(leak["per_party"]["Alpha Corp"]) == (0, 4)
    assert run["tokens"]["input"] == 12 * 100 and run["tokens"]["output"] == 12 * 20
    assert "adversarial_success" not in run


def test_history_and_answers_contract(tmp_path: Path) -> None:
    code, data = evaluate(tmp_path, str(FIXTURES / "ld_history"),
                          str(FIXTURES / "ld_answers"), "--game", GAME, "--rules", "paper")
    assert code == 0
    history, answers = data["runs"]
    assert history["format"] == "ld-history" and answers["format"] == "ld-answers"
    assert history["n_sessions"] == 1 and history["n_unfinished"] == 1
    assert len(history["errors"]) == 2
    assert [kn(history[k]) for k in ("final_success", "unanimous_success", "any_success")] == \
        [(1, 1), (0, 1), (1, 1)]
    assert history["wrong_deal_ratio"]["mean"] == pytest.approx(0.25)   # A6 by Beta (40)
    assert "vote_success" not in history
    assert answers["n_sessions"] == 1 and answers["n_unfinished"] == 2
    # paper reads "My minimum is 50, so A7 won't work. I suggest A1 and B3." as A7,B3 (wrong)
    assert answers["wrong_deal_ratio"]["mean"] == pytest.approx(1 / 4)
    assert kn(answers["score_fidelity"]["vote_consistency"]) == (2, 3)
    assert kn(answers["leakage"]["detector"]["messages"]) == (1, 4)
    assert answers["score_fidelity"]["format_failure"]["rate"] is None  # n = 0 -> null
    assert answers["score_fidelity"]["format_failure"]["ci95"] is None


def test_answers_default_rules_reads_conflicts_as_no_deal(tmp_path: Path) -> None:
    _, data = evaluate(tmp_path, str(FIXTURES / "ld_answers"), "--game", GAME)
    assert data["runs"][0]["wrong_deal_ratio"]["mean"] == pytest.approx(1 / 3)


def test_unreadable_input_is_reported_and_exit_2_when_nothing_evaluated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = evaluate(tmp_path, str(FIXTURES / "ld_answers"))
    assert code == 2
    assert data["runs"][0]["n_sessions"] == 0 and len(data["runs"][0]["errors"]) == 3
    assert data["runs"][0]["final_success"] == {"k": 0, "n": 0, "rate": None, "ci95": None}
    assert "give --game" in capsys.readouterr().err
    code, _ = evaluate(tmp_path, str(FIXTURES / "ld_history"), "--rounds", "7")
    assert code == 2


def test_csv_one_row_per_run(tmp_path: Path) -> None:
    out = tmp_path / "runs.csv"
    code = main(["evaluate", str(FIXTURES / "native"), str(FIXTURES / "ld_history"),
                 "--csv", str(out)])
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["format"] for r in rows] == ["native", "ld-history"]
    assert rows[0]["final_success_k"] == "1" and rows[0]["final_success_n"] == "2"
    assert rows[1]["n_errors"] == "2" and rows[0]["vote_success_k"] == "1"


def test_adversary_option(tmp_path: Path) -> None:
    code, data = evaluate(tmp_path, str(FIXTURES / "native"), "--adversary", "Gamma League",
                          "--rules", "paper")
    run = data["runs"][0]
    # final A9: Beta exactly 50 is not strictly above -> fails; session cccc has no final deal
    assert kn(run["adversarial_success"]) == (0, 2)
    assert run["adversarial"]["target"] == "Delta Union"
    # Delta's score in p1's deals: aaaa A2 60, A9 60; cccc A1 60, final (worth 0) 0
    assert run["adversarial"]["target_score_p1_deals"]["mean"] == pytest.approx((60 + 30) / 2)
    code, data = evaluate(tmp_path, str(FIXTURES / "native"), "--adversary", "Nobody")
    assert code == 2 and len(data["runs"][0]["errors"]) == 2


def test_baseline_drop(tmp_path: Path) -> None:
    code, data = evaluate(tmp_path, str(FIXTURES / "native"), "--baseline",
                          str(FIXTURES / "native"), "--adversary", "Gamma League")
    drop = data["runs"][0]["baseline"]
    assert drop["paired"] is True
    assert drop["drop"]["final_success"]["drop"] == 0.0
    assert drop["drop"]["final_success"]["ci95"] == [0.0, 0.0]
    assert drop["drop"]["adversarial_success"]["n"] == 2


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(FIXTURES / "native"), "--game", "no-such-game"]) == 2
    assert main(["evaluate", str(FIXTURES / "native"), "--rounds", "-1"]) == 2
    assert main(["evaluate", str(FIXTURES / "native"), "--judge", "nope:model"]) == 2
    assert "unknown provider" in capsys.readouterr().err
