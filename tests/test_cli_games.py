"""CLI tests for ``games``, ``check`` and ``prompt``: output contracts, exit status 2 with one
``error: PATH[:LINE]: …`` line on bad input, and nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from negotiation_cli import main
from tests.gamefactory import REPO, SHIPPED_GAMES, PartySpec, small_game, snapshot, write_game

CheckCase = tuple[str, Callable[[Path], None], str, int | None]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Call ``negotiation_cli.main`` in-process; return (status, stdout, stderr)."""
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse errors
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


def run_main_py(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python main.py ARGS`` as a user would, from ``cwd``."""
    return subprocess.run([sys.executable, str(REPO / "main.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def _replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        path = folder / rel
        path.write_text(path.read_text().replace(old, new))
    return mutate


def _write(rel: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / rel).write_text(text)


MALFORMED: list[CheckCase] = [
    ("missing-config", lambda f: (f / "config.txt").unlink(), "config.txt", None),
    ("unknown-role", _replace("config.txt", "gamma,player", "gamma,king"), "config.txt", 3),
    ("two-p1", _replace("config.txt", "beta,p2", "beta,p1"), "config.txt", 2),
    ("non-integer-score", _write("scores_files/beta.txt", "0,6,12\n0,x9\n12\n"),
     "scores_files/beta.txt", 2),
    ("row-length", _write("scores_files/gamma.txt", "4,8,2,5\n7,3\n9\n"),
     "scores_files/gamma.txt", None),
    ("placeholder", _write("individual_instructions/cooperative/gamma.txt", "a\n#F1_NUM\n"),
     "individual_instructions/cooperative/gamma.txt", 2),
    ("initial-deal", _write("initial_deal.txt", "A1,B7\n"), "initial_deal.txt", 1),
    ("targeted-no-target",
     _replace("config.txt", "gamma,player,cooperative", "gamma,player,targeted_adv"),
     "config.txt", 3),
    ("file-name-dotdot", _replace("config.txt", "alpha,p1", "../alpha,p1"), "config.txt", 1),
]


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
@pytest.mark.parametrize(("mutate", "rel", "line"),
                         [pytest.param(*c[1:], id=c[0]) for c in MALFORMED])
def test_check_malformed_exits_2_with_one_error_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        mutate: Callable[[Path], None], rel: str, line: int | None,
        json_flag: list[str]) -> None:
    folder = small_game(tmp_path / "games")
    mutate(folder)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = snapshot(tmp_path)
    status, out, err = run_cli(["check", str(folder), *json_flag], capsys)
    assert status == 2
    assert out == ""
    where = f"{folder / rel}:{line}" if line is not None else str(folder / rel)
    assert err.startswith(f"error: {where}: "), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("mutate", "rel", "line"), [
    pytest.param(*MALFORMED[1][1:], id="unknown-role"),
    pytest.param(*MALFORMED[5][1:], id="placeholder"),
])
def test_main_py_check_malformed_subprocess(tmp_path: Path, mutate: Callable[[Path], None],
                                            rel: str, line: int) -> None:
    folder = small_game(tmp_path / "games")
    mutate(folder)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = snapshot(tmp_path)
    proc = run_main_py(["check", str(folder)], cwd)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {folder / rel}:{line}: "), lines
    assert "Traceback" not in proc.stderr
    assert snapshot(tmp_path) == before


def test_check_unknown_game_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(["check", "no_such_game"], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: no_such_game: no game folder named 'no_such_game'")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_check_base_json_subprocess(tmp_path: Path) -> None:
    proc = run_main_py(["check", "base", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # base has no notes
    result = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    assert isinstance(result, dict)
    assert proc.stdout.lstrip().startswith("{") and proc.stdout.rstrip().endswith("}")
    assert {"name", "parties", "issues", "deals", "feasible", "unanimous"} <= set(result)
    assert result["name"] == "base"
    assert [(p["name"], p["role"], p["incentive"], p["minimum"]) for p in result["parties"]] == [
        ("SportCo", "p1", "cooperative", 55),
        ("Department of Tourism", "p2", "cooperative", 65),
        ("Environmental League", "player", "cooperative", 55),
        ("Mayor", "player", "cooperative", 30),
        ("Other cities", "player", "cooperative", 31),
        ("Local Labour Union", "target", "cooperative", 50),
    ]
    assert result["issues"] == [{"name": n, "options": k}
                                for n, k in zip("ABCDE", (3, 3, 4, 4, 5))]
    assert result["deals"] == 720
    assert result["feasible"] == {">=": 55, ">": 37}
    assert result["unanimous"] == {">=": 12, ">": 6}
    for key in ("feasible", "unanimous"):
        assert all(type(v) is int for v in result[key].values())
    assert result["roles"] == {  # inspect's --model-role names
        "sportco": "SportCo", "department_of_tourism": "Department of Tourism",
        "environmental_league": "Environmental League", "mayor": "Mayor",
        "other_cities": "Other cities", "local_labour_union": "Local Labour Union",
        "p1": "SportCo", "p2": "Department of Tourism", "summarizer": "@summarizer",
        "moderator": "@moderator"}
    assert list(tmp_path.iterdir()) == []


def test_check_json_notes_go_to_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    specs = [PartySpec("Chair", "chair", [[5, 0, 1], [3, 0]], 4),
             PartySpec("Second", "second", [[0, 5, 1], [0, 3]], 4),
             PartySpec("Third", "third", [[1, 1, 5], [3, 3]], 4, incentive="altruistic")]
    folder = write_game(tmp_path, specs, initial_deal=None,
                        global_text='"Chair" and "Second" talk.\n')
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(["check", str(folder), "--json"], capsys)
    assert status == 0
    result = json.loads(out)
    assert result["deals"] == 6
    assert len(result["notes"]) == 4
    err_lines = err.splitlines()
    assert err_lines == [f"note: {n}" for n in result["notes"]]
    joined = "\n".join(err_lines)
    assert "'Third' is never mentioned" in joined
    assert "no party is p1: Chair (first in config.txt) chairs the talks" in joined
    assert "no initial_deal.txt: the opening deal is Chair's best deal A1,B1" in joined
    assert "incentive 'altruistic' of Third has no template" in joined


def test_check_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(["check", "base"], capsys)
    assert status == 0 and err == ""
    assert "deals: 720" in out
    assert "with >=: feasible 55 (7.6%), unanimous 12" in out
    assert "with > : feasible 37 (5.1%), unanimous 6" in out
    assert "initial deal: A1,B1,C4,D1,E5" in out
    assert "model roles (inspect --model-role): sportco=SportCo, " in out


def test_check_by_name_in_games_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_game(tmp_path, name="tiny")
    status, out, _ = run_cli(["check", "tiny", "--games-dir", str(tmp_path), "--json"], capsys)
    assert status == 0
    assert json.loads(out)["name"] == "tiny"


def test_games_lists_all_five(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(["games"], capsys)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(SHIPPED_GAMES)
    by_name = {line.split()[0]: line for line in lines}
    assert " 6 parties   5 issues        720 deals" in by_name["base"]
    assert " 7 parties   6 issues      2,880 deals" in by_name["base_7parties"]


def test_games_with_games_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_game(tmp_path, name="tiny")
    (tmp_path / "not_a_game").mkdir()
    status, out, _ = run_cli(["games", "--games-dir", str(tmp_path)], capsys)
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()] == ["tiny"]
    assert "3 parties" in out and "6 deals" in out


def test_prompt_round_subprocess(tmp_path: Path) -> None:
    proc = run_main_py(["prompt", "base", "--party", "Mayor", "--turn", "round"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"Mayor" (represented by you)' in proc.stdout
    assert '"SportCo" (represented by you)' not in proc.stdout
    assert "=== user (round) ===" in proc.stdout
    assert "It is your turn to speak, Mayor." in proc.stdout
    assert "SportCo: <DEAL>A1,B1,C4,D1,E5</DEAL>" in proc.stdout


@pytest.mark.parametrize(("turn", "party", "expected"), [
    ("opening", "SportCo", "You open the talks, SportCo."),
    ("final", "SportCo", "You (SportCo): <DEAL>A1,B1,C4,D1,E5</DEAL>"),
    ("vote", "Mayor", "For you, Mayor, this deal is worth 76 points"),
    ("round", "Local Labour Union", "It is your turn to speak, Local Labour Union."),
])
def test_prompt_turns(capsys: pytest.CaptureFixture[str], turn: str, party: str,
                      expected: str) -> None:
    status, out, _ = run_cli(["prompt", "base", "--party", party, "--turn", turn], capsys)
    assert status == 0
    assert out.startswith("=== system ===\n")
    assert f"=== user ({turn}) ===" in out
    assert expected in out


def test_prompt_unknown_party_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(["prompt", "base", "--party", "Nobody"], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: no party named 'Nobody' in base (parties: SportCo, ")
    assert err.count("\n") == 1


def test_prompt_bad_template_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = small_game(tmp_path, extra_files={"prompts/initial.j2": "{{ ''.__class__ }}"})
    status, out, err = run_cli(["prompt", str(folder), "--party", "Alpha Corp"], capsys)
    assert status == 2
    assert err.startswith("error: ") and "initial.j2:1: forbidden by the template sandbox" in err
    assert "<class" not in out + err


def test_prompt_bad_turn_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(["prompt", "base", "--party", "Mayor", "--turn", "later"], capsys)
    assert status == 2 and out == ""
    assert "invalid choice" in err


def test_check_huge_initial_deal_number_exits_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = small_game(tmp_path, initial_deal="A" + "9" * 5000 + ",B1")
    status, _, err = run_cli(["check", str(folder)], capsys)
    assert status == 2 and err.startswith(f"error: {folder / 'initial_deal.txt'}:1: ")


def test_prompt_and_check_show_the_structured_turn(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(["prompt", "base", "--party", "Mayor", "--turn", "final",
                              "--structured", "grammar"], capsys)
    assert status == 0
    grammar = out.split("=== grammar (key ", 1)[1]
    assert 'iA ::= "A1" | "A2" | "A3"\n' in grammar and '"A4"' not in grammar
    assert 'iE ::= "E1" | "E2" | "E3" | "E4" | "E5"' in grammar
    status, out, _ = run_cli(["prompt", "base", "--party", "Mayor", "--turn", "vote",
                              "--structured", "json"], capsys)
    schema = json.loads(out.split("=== json (key ", 1)[1].split("\n", 1)[1])
    assert schema["properties"]["vote"]["enum"] == ["ACCEPT", "REJECT"]
    status, out, _ = run_cli(["check", "base", "--json"], capsys)
    turns = json.loads(out)["structured"]
    assert list(turns) == ["opening", "round", "final", "vote"]
    opening = turns["opening"]["json_schema"]["properties"]
    assert opening["deal"]["properties"]["C"]["enum"] == ["C1", "C2", "C3", "C4"]
    assert "(\" <DEAL>\" deal" in turns["round"]["grammar"]  # optional in discussion turns
    assert "message \" <DEAL>\" deal" in turns["final"]["grammar"]  # required in the final
