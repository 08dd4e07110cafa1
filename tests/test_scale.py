"""Sweeps at scale: the CLI's concurrency is real (no hidden cap), worker processes on one
machine, and Ray on a multi-node cluster without a shared disk, with a node lost mid-sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from negotiation.logs.reading import load_logs
from negotiation.logs.records import comparable
from negotiation_cli import main
from tests.fakes.fake_llm_server import FakeLLMServer
from tests.fakes.negotiation_replies import replies

ROOT = Path(__file__).resolve().parent.parent


def fake_run(server: FakeLLMServer, out: Path, name: str, *extra: str) -> int:
    return main(["--game", "base", "--model", f"openai:fake@{server.openai_base_url}",
                 "--rounds", "4", "--no-vote", "--out", str(out), "--name", name, "--quiet",
                 "--no-cache", *extra])


def test_concurrency_is_not_capped_and_max_in_flight_is(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    with FakeLLMServer(replies(max_delay_s=0.25, seed=1)) as server:
        assert fake_run(server, tmp_path, "wide", "--sessions", "20", "--concurrency", "20") == 0
        assert server.max_in_flight >= 15
    with FakeLLMServer(replies(max_delay_s=0.05, seed=1)) as server:
        assert fake_run(server, tmp_path, "narrow", "--sessions", "20", "--concurrency", "20",
                        "--max-in-flight", "5") == 0
        assert 2 <= server.max_in_flight <= 5
    assert "at most 5 call(s) in flight per provider" in capsys.readouterr().err


@pytest.mark.parametrize("flag,value", [("--workers", "0"), ("--workers", "65"),
                                        ("--max-in-flight", "0"), ("--max-in-flight", "x")])
def test_new_flags_are_bounded(tmp_path: Path, flag: str, value: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--game", "base", "--model", "scripted:rational", flag, value, "--out",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and list(tmp_path.iterdir()) == []


def _logs(folder: Path) -> dict[str, Any]:
    return {p.name: comparable(p) for p in sorted(folder.glob("session-*.json"))}


def test_two_workers_give_the_logs_of_one(tmp_path: Path) -> None:
    args = ["--game", "base", "--model", "scripted:planner", "--rounds", "8", "--sessions", "6",
            "--concurrency", "4", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "one"), "--name", "r"]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--name", "r", "--workers", "2"]) == 0
    one, two = _logs(tmp_path / "one" / "r"), _logs(tmp_path / "two" / "r")
    assert one == two and len(two) == 6
    workers = {log.worker for log in load_logs(tmp_path / "two" / "r").logs}
    assert len(workers) == 2 and all("worker" in w for w in workers)
    summary = json.loads((tmp_path / "two" / "r" / "summary.json").read_text())
    assert summary["workers"] == 2 and summary["completed"] == 6


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_sigkill_of_the_parent_leaves_no_worker_and_the_rerun_resumes(tmp_path: Path) -> None:
    with FakeLLMServer(replies(max_delay_s=0.1, seed=3)) as server:
        cmd = [sys.executable, "main.py", "--game", "base", "--model",
               f"openai:fake@{server.openai_base_url}", "--rounds", "6", "--no-vote",
               "--sessions", "6", "--concurrency", "2", "--workers", "2", "--out",
               str(tmp_path), "--name", "k", "--quiet", "--no-cache"]
        parent = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        folder = tmp_path / "k"
        workers: list[int] = []
        while parent.poll() is None and not list(folder.glob("session-*.json")):
            workers = _children(parent.pid) or workers  # a condition, not a timing
        assert parent.poll() is None, "the sweep ended before it could be killed"
        parent.kill()
        parent.wait()
        finished = {p: p.read_bytes() for p in folder.glob("session-*.json")}
        assert finished and workers
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the kernel to reap, bounded
        assert not any(Path(f"/proc/{w}").exists() for w in workers)
        requests = len(server.requests)
        rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        resumed = len(server.requests) - requests
    logs = load_logs(folder).logs
    assert len(logs) == 6 and all(log.status == "complete" for log in logs)
    assert all(path.read_bytes() == data for path, data in finished.items())
    assert resumed <= (6 - len(finished)) * 8  # nothing finished ran again


# --- Ray on a multi-node cluster -------------------------------------------------------------



@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    small = {"object_store_memory": 80 * 1024 * 1024}
    made = Cluster(initialize_head=True,
                   head_node_args={"num_cpus": 0, "include_dashboard": False, **small})
    nodes = [made.add_node(num_cpus=1, **small) for _ in range(2)]
    yield ray, made, nodes
    ray.shutdown()
    made.shutdown()


def _ray_experiment(tmp: Path, name: str, repetitions: int, rounds: int) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"{name}.yaml"
    path.write_text(f"name: {name}\nout: {tmp}\ngames: base\nmodels: scripted:planner\n"
                    f"rounds: {rounds}\nrepetitions: {repetitions}\nconcurrency: 4\n")
    return path


def test_ray_cluster_runs_on_two_nodes_and_only_the_driver_writes(cluster: Any,
                                                                  tmp_path: Path) -> None:
    ray, made, _ = cluster
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    ray.init(address=made.address, log_to_driver=False, runtime_env={
        "env_vars": {"NEGOTIATION_TEST_RUN_DIR": os.path.realpath(run_dir),
                     "PYTHONPATH": str(ROOT)},
        "worker_process_setup_hook": "tests.ray_guard.guard"})
    try:
        exp = _ray_experiment(tmp_path, "r", 6, 8)
        assert main(["run", str(exp), "--executor", "ray", "--quiet"]) == 0
    finally:
        ray.shutdown()
    logs = load_logs(run_dir).logs
    assert len(logs) == 6 and all(log.status == "complete" for log in logs)
    nodes = {log.worker.split("@", 1)[1] for log in logs}
    assert len(nodes) >= 2 and all(n.startswith("node-") for n in nodes)
    assert main(["run", str(_ray_experiment(tmp_path / "aio", "r", 6, 8)), "--quiet"]) == 0
    for path in sorted(run_dir.glob("session-*.json")):
        assert comparable(path) == comparable(tmp_path / "aio" / "r" / path.name)


def test_a_lost_node_loses_no_finished_session(cluster: Any, tmp_path: Path) -> None:
    ray, made, nodes = cluster
    ray.init(address=made.address, log_to_driver=False)
    run_dir = tmp_path / "lost"
    killed: list[bool] = []

    def kill_when_one_is_done() -> None:
        while not list(run_dir.glob("session-*.json")):
            time.sleep(0.05)  # waiting for a condition
        made.remove_node(nodes[-1])
        killed.append(True)

    killer = threading.Thread(target=kill_when_one_is_done, daemon=True)
    killer.start()
    try:
        exp = _ray_experiment(tmp_path, "lost", 8, 24)
        assert main(["run", str(exp), "--executor", "ray", "--quiet"]) == 0
    finally:
        ray.shutdown()
    killer.join(timeout=5)
    assert killed
    logs = load_logs(run_dir).logs
    assert len(logs) == 8 and all(log.status == "complete" for log in logs)
    assert all(len(log.turns) == 1 + 24 + 1 + 5 for log in logs)
