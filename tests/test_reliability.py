"""No reply, file or flag can take a sweep down or reach outside its folders (docs/guarantees.md).

Each test reproduces one defect found on the previous main (cfef207): malformed 200 replies,
the lock taken after reading, readers following symlinks/FIFOs, path traversal, game folders
pulling in outside files, inconsistent logs crashing evaluation, unbounded numbers, control
characters reaching the terminal, TeX in plot labels, ``check`` passing broken templates, disk
full, and SIGTERM.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from negotiation.logs.reading import load_logs
from negotiation_cli import main
from tests.fakes.fake_llm_server import FakeLLMServer, Malformed
from tests.fakes.negotiation_replies import replies
from tests.gamefactory import PartySpec, copy_shipped, snapshot, write_game

ROOT = Path(__file__).resolve().parent.parent
FAST_RETRY = {"NEGOTIATION_RETRY_BASE_DELAY_S": "0.01"}


def scripted(out: Path, name: str = "r", *extra: str) -> Path:
    assert main(["--game", "base", "--model", "scripted:rational", "--rounds", "4",
                 "--sessions", "2", "--out", str(out), "--name", name, "--quiet", *extra]) == 0
    return out / name


def session_file(run: Path) -> Path:
    return sorted(run.glob("session-*.json"))[0]


# --- 1. malformed 200 replies --------------------------------------------------------------

def _fake_run(server: FakeLLMServer, out: Path, sessions: int, concurrency: int) -> int:
    return main(["--game", "base", "--model", f"openai:fake@{server.openai_base_url}",
                 "--rounds", "3", "--no-vote", "--sessions", str(sessions), "--concurrency",
                 str(concurrency), "--out", str(out), "--name", "m", "--quiet"])


@pytest.mark.parametrize("kind", ["html", "truncated", "usage", "array"])
def test_malformed_replies_are_retried_and_every_session_completes(
        tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEGOTIATION_RETRY_BASE_DELAY_S", "0.01")
    with FakeLLMServer(replies(seed=2), failure_every=(7, Malformed(kind))) as server:
        assert _fake_run(server, tmp_path, 8, 4) == 0
    logs = load_logs(tmp_path / "m").logs
    assert len(logs) == 8 and all(log.status == "complete" for log in logs)
    assert sum(t.retries for log in logs for t in log.turns) > 0


def test_a_session_that_keeps_getting_garbage_fails_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    monkeypatch.setenv("NEGOTIATION_RETRY_BASE_DELAY_S", "0.01")
    with FakeLLMServer(replies(seed=2), failures=[Malformed("html")] * 6) as server:
        assert _fake_run(server, tmp_path, 3, 1) == 1
    logs = load_logs(tmp_path / "m").logs
    assert sorted(log.status for log in logs) == ["complete", "complete", "failed"]
    failed = next(log for log in logs if log.status == "failed")
    assert "malformed reply" in (failed.error or "") and failed.error_traceback
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert (summary["completed"], summary["failed"], summary["unfinished"]) == (2, 1, 0)
    assert "Traceback" not in capsys.readouterr().err


# --- 2. the lock is taken before anything is read ------------------------------------------

HOOKED = """
import contextlib, sys
import negotiation.runs.lock as lock
real = lock.run_lock
@contextlib.contextmanager
def hooked(folder):
    open(sys.argv[1]).read()   # wait here, before the lock, until the test lets us go on
    with real(folder):
        yield
lock.run_lock = hooked
from negotiation_cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_a_racing_run_never_reruns_finished_sessions(tmp_path: Path) -> None:
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    args = ["--game", "base", "--model", "scripted:rational", "--rounds", "4", "--sessions",
            "2", "--out", str(tmp_path), "--name", "race", "--quiet"]
    late = subprocess.Popen([sys.executable, "-c", HOOKED, str(fifo), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(fifo, "w") as gate:  # returns once the late run waits at its lock
        assert main(args) == 0  # meanwhile another run does all the work
        finished = snapshot(tmp_path / "race")
        gate.write("go")
    out, err = late.communicate(timeout=120)
    assert late.returncode == 0, err
    assert err.count("already complete") == 2
    now = snapshot(tmp_path / "race")
    assert {k: v for k, v in now.items() if "session-" in k} == \
        {k: v for k, v in finished.items() if "session-" in k}


# --- 3. readers open only regular files inside the folder ----------------------------------

def test_symlinks_fifos_and_huge_files_in_a_run_folder_are_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    run = scripted(tmp_path)
    (run / "session-zero.json").symlink_to("/dev/zero")
    os.mkfifo(run / "session-fifo.json")
    outside = tmp_path / "elsewhere.json"
    outside.write_text(session_file(run).read_text())
    (run / "session-out.json").symlink_to(outside)
    big = run / "session-big.json"
    big.write_text(session_file(run).read_text() + " " * 5000)
    monkeypatch.setenv("NEGOTIATION_MAX_LOG_BYTES", str(big.stat().st_size - 10))
    assert main(["report", str(run), "--out", str(tmp_path / "s")]) == 0
    index = (tmp_path / "s" / "index.html").read_text(encoding="utf-8")
    assert all(f"session-{n}.json" in index for n in ("zero", "fifo", "out", "big"))
    reported = capsys.readouterr().err
    assert all(f"session-{n}.json" in reported for n in ("zero", "fifo", "out", "big"))
    for command in (["index", str(run)], ["export", str(run), "--format", "csv", "--out",
                                          str(tmp_path / "csv")], ["evaluate", str(run)]):
        assert main(command) == 0, command
        err = capsys.readouterr().err
        assert "session-zero.json: skipped: not a regular file" in err or \
            "session-zero.json: skipped: resolves outside" in err
        assert "session-fifo.json: skipped: not a regular file" in err
        assert "session-out.json: skipped: resolves outside" in err
        assert "session-big.json" in err and "exceed the limit" in err


def test_a_run_folder_that_is_itself_a_symlink_is_read(tmp_path: Path) -> None:
    run = scripted(tmp_path / "disk")
    link = tmp_path / "linked"
    link.symlink_to(run, target_is_directory=True)
    assert len(load_logs(link).logs) == 2 and load_logs(link).problems == []


def test_game_files_pointing_outside_or_too_large_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    game = copy_shipped(tmp_path, "base", "leaky")
    (game / "global_instructions.txt").unlink()
    (game / "global_instructions.txt").symlink_to("/etc/passwd")
    assert main(["check", str(game)]) == 2
    assert "global_instructions.txt: resolves outside" in capsys.readouterr().err
    game2 = copy_shipped(tmp_path, "base", "template")
    (game2 / "prompts").mkdir()
    (game2 / "prompts" / "round.j2").symlink_to("/etc/passwd")
    assert main(["check", str(game2)]) == 2
    assert "round.j2: resolves outside" in capsys.readouterr().err
    game3 = copy_shipped(tmp_path, "base", "huge")
    monkeypatch.setenv("NEGOTIATION_MAX_GAME_FILE_BYTES", "1000")
    assert main(["check", str(game3)]) == 2
    assert "exceed the limit of 1,000" in capsys.readouterr().err


# --- 4. nothing is written outside the output folder ---------------------------------------

def test_path_traversal_in_names_is_refused(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("../../escape", str(tmp_path / "abs"), ".hidden", "a/b"):
        assert main(["--game", "base", "--model", "scripted:rational", "--rounds", "2",
                     "--out", str(tmp_path / "out"), "--name", name, "--quiet"]) == 2
        assert "--name" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape").exists()
    run = scripted(tmp_path / "ok")
    data = json.loads(session_file(run).read_text())
    data["session_id"] = "../../../owned"
    (run / "session-evil.json").write_text(json.dumps(data))
    data = json.loads(session_file(run).read_text())
    data["session_id"], data["parties"][0]["file_name"] = "ffff", "../../owned"
    (run / "session-evil2.json").write_text(json.dumps(data))
    assert main(["export", str(run), "--format", "ld", "--out", str(tmp_path / "ld")]) == 0
    err = capsys.readouterr().err
    assert "session-evil.json: not a valid session log (session_id" in err
    assert "session-evil2.json: not a valid session log (parties.0.file_name" in err
    assert not list(tmp_path.rglob("owned*"))


# --- 5. inconsistent logs are reported and skipped -----------------------------------------

def _spoil(data: dict[str, Any], kind: str) -> Any:
    if kind == "shape":
        data["parties"][1]["scores"][0].append(5)
    elif kind == "no-issues":
        data["issues"] = []
    elif kind == "one-party":
        data["parties"] = data["parties"][:1]
    elif kind == "duplicate-index":
        data["turns"][2]["index"] = data["turns"][1]["index"]
    elif kind == "version":
        data["format_version"] = 99
    elif kind == "huge-seed":
        data["seed"] = 2**70
    return data


@pytest.mark.parametrize("kind", ["shape", "no-issues", "one-party", "duplicate-index",
                                  "version", "huge-seed", "deep"])
def test_an_inconsistent_log_is_skipped_by_every_reader(
        tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = scripted(tmp_path)
    data = json.loads(session_file(run).read_text())
    text = "[" * 100_000 + "]" * 100_000 if kind == "deep" else json.dumps(_spoil(data, kind))
    (run / "session-spoiled.json").write_text(text)
    for command in (["evaluate", str(run)], ["leaderboard", str(run)],
                    ["index", str(run), "--db", str(tmp_path / "x.sqlite")],
                    ["export", str(run), "--format", "parquet", "--out", str(tmp_path / "pq")]):
        assert main(command) == 0, command
        assert "session-spoiled.json" in capsys.readouterr().err, command
    assert main(["report", str(run), "--out", str(tmp_path / "site")]) == 0
    assert "session-spoiled.json" in (tmp_path / "site" / "index.html").read_text()
    assert "session-spoiled.json" in capsys.readouterr().err


def test_copies_count_once_and_conflicts_are_skipped(tmp_path: Path) -> None:
    run = scripted(tmp_path)
    first, second = sorted(run.glob("session-*.json"))
    shutil.copy(first, run / "session-copy.json")
    data = json.loads(second.read_text())
    data["final_scores"] = {k: 0 for k in data["final_scores"]}
    (run / "session-conflict.json").write_text(json.dumps(data))
    found = load_logs(run)
    assert [log.session_id for log in found.logs] == [json.loads(first.read_text())["session_id"]]
    assert any("identical copies, counted once" in p for p in found.problems)
    assert any("conflicting copies" in p for p in found.problems)


# --- 6. bounds on every number --------------------------------------------------------------

@pytest.mark.parametrize("flag,value", [("--rounds", "5000000"), ("--window", "-1"),
                                        ("--sessions", "0"), ("--concurrency", "20000"),
                                        ("--max-tokens", "200000"), ("--seed", str(2**63)),
                                        ("--rounds", "many")])
def test_out_of_range_flags_are_one_line_errors(tmp_path: Path, flag: str, value: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--game", "base", "--model", "scripted:rational", flag, value, "--out",
                 str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and flag in err
    assert list(tmp_path.iterdir()) == []


def test_out_of_range_yaml_numbers_name_the_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("games: base\nmodels: scripted:rational\nrounds: 99999999999999999999999\n")
    assert main(["run", str(path)]) == 2
    assert f"{path}:3:" in capsys.readouterr().err


# --- 7. terminal and plots -----------------------------------------------------------------

def _odd_game(root: Path, name: str) -> Path:
    parties = [PartySpec(name, "odd", [[10, 5], [8, 0]], 10, role="p1"),
               PartySpec("Beta", "beta", [[0, 6], [0, 9]], 6, role="p2"),
               PartySpec("Gamma", "gamma", [[4, 8], [7, 3]], 9)]
    return write_game(root, parties, name="odd")


def test_control_characters_never_reach_the_terminal(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    game = _odd_game(tmp_path, "Evil\x1b[31m\x07Corp")
    for command in (["check", str(game)],
                    ["prompt", str(game), "--party", "Evil\x1b[31m\x07Corp"],
                    ["--game", str(game), "--model", "scripted:rational", "--rounds", "2",
                     "--out", str(tmp_path / "out"), "--name", "o"]):
        main(command)
        captured = capsys.readouterr()
        both = captured.out + captured.err
        assert "\x1b" not in both and "\x07" not in both, command
        assert "\\x1b[31m\\x07" in both, command


def test_server_error_bodies_are_escaped(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fakes.fake_llm_server import Failure

    with FakeLLMServer(failures=[Failure(400, message="bad \x1b[2J\x07 request")]) as server:
        assert main(["--game", "base", "--model", f"openai:x@{server.openai_base_url}",
                     "--rounds", "2", "--out", str(tmp_path), "--name", "e", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b[2J" in err


def test_tex_in_party_names_does_not_break_plots_or_reports(tmp_path: Path) -> None:
    game = _odd_game(tmp_path, "Mayor $\\undefinedmacro{x}$")
    assert main(["--game", str(game), "--model", "scripted:rational", "--rounds", "3",
                 "--out", str(tmp_path / "out"), "--name", "t", "--quiet"]) == 0
    run = tmp_path / "out" / "t"
    assert main(["plot", str(run), "--out", str(tmp_path / "plots")]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "site")]) == 0
    assert main(["game", "plot", str(game), "--out", str(tmp_path / "g.png")]) == 0


# --- 8. check renders every prompt; a run that fails validation writes nothing --------------

def test_check_and_run_refuse_a_broken_template(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    game = copy_shipped(tmp_path, "base", "broken")
    (game / "prompts").mkdir()
    (game / "prompts" / "vote.j2").write_text("{{ nonexistent.attribute }}")
    assert main(["check", str(game)]) == 2
    assert "vote.j2" in capsys.readouterr().err
    (game / "prompts" / "vote.j2").write_text("{{ ''.__class__.__mro__ }}")
    assert main(["check", str(game)]) == 2
    assert "sandbox" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["--game", str(game), "--model", "scripted:rational", "--out", str(out),
                 "--quiet"]) == 2
    assert not out.exists()


def test_check_refuses_an_unknown_model_column(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    game = copy_shipped(tmp_path, "base", "model")
    config = (game / "config.txt").read_text().splitlines()
    config[1] = ",".join(config[1].split(",")[:4] + ["nosuchprovider:x"])
    (game / "config.txt").write_text("\n".join(config) + "\n")
    assert main(["check", str(game)]) == 2
    assert "config.txt:2:" in capsys.readouterr().err


# --- 9. disk full -----------------------------------------------------------------------------

def test_disk_full_is_one_line_and_keeps_what_was_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    from negotiation.logs import journal

    real, calls = journal._write_all, [0]

    def full(fd: int, data: bytes) -> None:
        calls[0] += 1
        if calls[0] > 5:
            raise OSError(errno.ENOSPC, "No space left on device")  # as os.write: no file name
        real(fd, data)

    monkeypatch.setattr(journal, "_write_all", full)
    code = main(["--game", "base", "--model", "scripted:rational", "--rounds", "8",
                 "--out", str(tmp_path), "--name", "full", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().count("\n") == 0 and "No space left on device" in err and "session-" in err
    [log] = load_logs(tmp_path / "full").logs
    assert len(log.turns) >= 5  # every turn written before the disk filled is intact
    assert log.status in ("running", "failed")  # either way a rerun resumes it


# --- 10. SIGTERM mid-sweep, then resume -------------------------------------------------------

def test_sigterm_writes_the_summary_and_the_rerun_resumes(tmp_path: Path) -> None:
    with FakeLLMServer(replies(max_delay_s=0.05, seed=9)) as server:
        cmd = [sys.executable, "main.py", "--game", "base", "--model",
               f"openai:fake@{server.openai_base_url}", "--rounds", "12", "--no-vote",
               "--sessions", "3", "--concurrency", "3", "--out", str(tmp_path), "--name", "t",
               "--quiet", "--no-cache"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        folder = tmp_path / "t"
        while proc.poll() is None and len(server.requests) < 6:
            pass  # a busy wait on a condition, not timing: the sweep is running
        proc.terminate()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["interrupted"] == "SIGTERM" and summary["unfinished"] >= 1
        rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
    logs = load_logs(folder).logs
    assert len(logs) == 3 and all(log.status == "complete" for log in logs)
    assert not list(folder.glob("*.jsonl"))


# --- 11. log I/O is linear in the number of turns ---------------------------------------------

MEASURE = """
import sys
from negotiation_cli import main
def wchar():
    return int(next(l for l in open("/proc/self/io") if l.startswith("wchar")).split()[1])
before = wchar()
code = main(sys.argv[1:])
print(wchar() - before, code)
"""


def test_bytes_written_for_a_200_turn_session_are_linear(tmp_path: Path) -> None:
    args = ["--game", "base", "--model", "scripted:rational", "--rounds", "193", "--out",
            str(tmp_path), "--name", "long", "--quiet"]
    proc = subprocess.run([sys.executable, "-c", MEASURE, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    written, code = map(int, proc.stdout.split()[-2:])
    assert code == 0, proc.stderr
    folder = tmp_path / "long"
    [log] = load_logs(folder).logs
    assert len(log.turns) == 200
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert written <= 3 * size, (written, size)
