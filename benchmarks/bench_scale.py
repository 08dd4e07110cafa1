#!/usr/bin/env python
"""Sweeps at real scale (issue 13): the CLI as a user types it, against a loopback server.

Every sweep is ``python main.py ...`` in a subprocess (``base``, vote off, ``--quiet``) against
``benchmarks/loopback_server.py``, an OpenAI-compatible server in its own process that answers
each call with a well-formed turn after a fixed latency. A session's calls are sequential, so no
schedule beats the critical path: calls per session (the turns with a model call in a finished
log) x latency. Each run is read back with ``load_logs`` and must hold N complete sessions.

1. ``--critical``: N=100 at 0.2 s, ``--concurrency N --workers 2``: wall / critical path
   (target <= 1.25); throughput against the paper's loop (3 sessions, ``--concurrency 1
   --workers 1``) in the same run: (N / wall) / (3 / wall_seq) (target >= 0.8 N = 80).
2. ``--thousand``: N=1000 at 2 s, ``--workers 2``: wall / the 52 s critical path (target <= 1.5).
3. ``--ray``: N=100 at 0.2 s through ``python main.py run EXP.yaml --executor ray`` (a local Ray,
   or ``--ray-nodes K``: a K-node ``ray.cluster_utils.Cluster`` of one CPU each), and its wall
   against the asyncio executor's (``--workers 2``) on the same file. Skipped without Ray.

"wall" is the subprocess's wall time (interpreter start and imports included: what the user
waits for); "sweep" is ``wall_s`` of the run's ``summary.json``. Run from the repository root::

    python benchmarks/bench_scale.py                 # all three cases (minutes: case 2 alone
                                                     # is >= 1 min, more if CPU-bound)
    python benchmarks/bench_scale.py --critical      # one case
    python benchmarks/bench_scale.py --quick         # smoke: small N, 0.05 s calls (~1-2 min)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from loopback_server import LoopbackServer  # noqa: E402

from negotiation.logs.reading import load_logs  # noqa: E402
from negotiation.logs.records import SessionLog  # noqa: E402


@dataclass(frozen=True)
class Run:
    """One finished sweep."""

    label: str
    n: int
    wall_s: float
    sweep_s: float
    calls_per_session: int
    workers: int
    server: dict[str, Any]


def machine(when: str) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  [{when}] {datetime.datetime.now().isoformat(timespec='seconds')}  "
          f"{os.cpu_count()} cores, load average {load}  ({platform.platform()}, "
          f"Python {platform.python_version()})", flush=True)


def model_calls(log: SessionLog) -> int:
    return sum(1 for t in log.turns if not t.cached and t.finish_reason != "skipped")


def check_run(folder: Path, n: int) -> tuple[int, int]:
    """Fail loudly unless ``folder`` holds ``n`` complete sessions; the calls per session and
    how many processes (workers, actors) ran them."""
    loaded = load_logs(folder)
    logs = loaded.logs
    bad = [f"{log.session_id}: {log.status} {log.error or ''}" for log in logs
           if log.status != "complete"]
    if len(logs) != n or bad or loaded.problems:
        sys.exit(f"FAILED: {folder}: {len(logs)} of {n} sessions read; not complete: {bad[:5]}; "
                 f"problems: {loaded.problems[:5]}")
    calls = {model_calls(log) for log in logs}
    if len(calls) != 1:
        print(f"  note: calls per session differ across sessions: {sorted(calls)}")
    return max(calls), len({log.worker for log in logs})


def timed(command: list[str], log_file: Path, timeout_s: float) -> float:
    """Run ``command`` from the repository root; its wall time. Output goes to ``log_file``."""
    started = time.perf_counter()
    with log_file.open("w") as sink:
        done = subprocess.run(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                              timeout=timeout_s, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = log_file.read_text(errors="replace")[-3000:]
        sys.exit(f"FAILED (exit {done.returncode}): {' '.join(command)}\n{tail}")
    return wall


def sweep(server: LoopbackServer, out: Path, label: str, n: int, command: list[str],
          timeout_s: float) -> Run:
    """One sweep writing ``out/label``; checked and measured."""
    server.reset()
    print(f"  $ {' '.join(command)}", flush=True)
    wall = timed(command, out / f"{label}.out", timeout_s)
    folder = out / label
    sweep_s = float(json.loads((folder / "summary.json").read_text())["wall_s"])
    run = Run(label, n, wall, sweep_s, *check_run(folder, n), server.stats())
    print(f"  {label}: {n} sessions complete in {run.workers} process(es), wall {wall:.2f} s, "
          f"sweep {sweep_s:.2f} s, {run.calls_per_session} calls/session, "
          f"server: {run.server['requests']} calls, "
          f"max {run.server['max_in_flight']} in flight", flush=True)
    return run


def cli(server: LoopbackServer, out: Path, name: str, n: int, concurrency: int, workers: int,
        extra: list[str]) -> list[str]:
    return [sys.executable, "main.py", "--game", "base", "--model",
            f"openai:bench@{server.base_url}", "--sessions", str(n), "--concurrency",
            str(concurrency), "--no-vote", "--workers", str(workers), "--quiet", "--out",
            str(out), "--name", name, *extra]


def budget(latency: float) -> float:
    """A generous subprocess timeout: startup plus 30 times a 26-call critical path."""
    return 600 + 30 * 26 * latency


def verdict(value: float, target: float, at_most: bool) -> str:
    ok = value <= target if at_most else value >= target
    return f"target {'<=' if at_most else '>='} {target:g}: {'PASS' if ok else 'MISS'}"


def ratio_lines(run: Run, latency: float, target: float | None) -> None:
    bound = run.calls_per_session * latency
    print(f"  critical path {run.calls_per_session} calls x {latency:g} s = {bound:.2f} s")
    ratio = run.wall_s / bound
    print(f"  wall / critical path  = {ratio:.2f}  "
          f"{'' if target is None else verdict(ratio, target, True)}")
    print(f"  sweep / critical path = {run.sweep_s / bound:.2f}  (summary.json wall_s)")


def case_critical(args: argparse.Namespace, out: Path) -> None:
    n, seq_n, latency = (10, 2, 0.05) if args.quick else (100, 3, 0.2)
    print(f"\n== 1. N={n} at {latency:g} s per call, --workers 2: critical path and throughput ==")
    machine("before")
    with LoopbackServer(latency) as server:
        par = sweep(server, out, "critical", n,
                    cli(server, out, "critical", n, n, 2, args.extra), budget(latency))
        ratio_lines(par, latency, 1.25)
        seq = sweep(server, out, "sequential", seq_n,
                    cli(server, out, "sequential", seq_n, 1, 1, args.extra), budget(latency))
    speedup = (n / par.wall_s) / (seq_n / seq.wall_s)
    print(f"  throughput: {n / par.wall_s:.3f} sessions/s vs {seq_n / seq.wall_s:.4f} one at a "
          f"time: {speedup:.1f}x  {verdict(speedup, 0.8 * n, False)}")
    print(f"  (sweep-only: {(n / par.sweep_s) / (seq_n / seq.sweep_s):.1f}x)")
    print(f"  server max calls in flight: {par.server['max_in_flight']} (of {n} sessions)")
    machine("after")


def case_thousand(args: argparse.Namespace, out: Path) -> None:
    n, latency = (30, 0.1) if args.quick else (1000, 2.0)
    print(f"\n== 2. N={n} at {latency:g} s per call, --workers 2: critical path ==")
    machine("before")
    with LoopbackServer(latency) as server:
        run = sweep(server, out, "thousand", n,
                    cli(server, out, "thousand", n, n, 2, args.extra), budget(latency))
    ratio_lines(run, latency, 1.5)
    print(f"  server max calls in flight: {run.server['max_in_flight']} (of {n} sessions)")
    machine("after")


def experiment(out: Path, name: str, base_url: str, n: int) -> Path:
    path = out / f"{name}.yaml"
    path.write_text(f"name: {name}\nout: {out}\ngames: base\nmodels: openai:bench\n"
                    f"base_url: {base_url}\nvote: false\nrepetitions: {n}\nconcurrency: {n}\n"
                    f"cache: 'off'\n")
    return path


def ray_missing() -> str | None:
    try:
        import ray  # noqa: F401
    except ImportError as err:
        return f"Ray is not installed ({err}); pip install ray==2.60.0"
    return None


def start_cluster(nodes: int) -> tuple[str, Callable[[], None]]:
    """A local ``nodes``-node Ray cluster (one CPU each, the head none); address and stop."""
    import ray
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    small = {"object_store_memory": 80 * 1024 * 1024}
    made = Cluster(initialize_head=True,
                   head_node_args={"num_cpus": 0, "include_dashboard": False, **small})
    for _ in range(nodes):
        made.add_node(num_cpus=1, **small)
    made.wait_for_nodes()

    def stop() -> None:
        ray.shutdown()
        made.shutdown()

    return made.address, stop


def case_ray(args: argparse.Namespace, out: Path) -> None:
    n, latency = (10, 0.05) if args.quick else (100, 0.2)
    print(f"\n== 3. N={n} at {latency:g} s per call: --executor ray vs asyncio --workers 2 ==")
    missing = ray_missing()
    if missing:
        print(f"  skipped: {missing}")
        return
    machine("before")
    address, stop = start_cluster(args.ray_nodes) if args.ray_nodes else (None, lambda: None)
    try:
        with LoopbackServer(latency) as server:
            cmd = [sys.executable, "main.py", "run", "--quiet"]
            aio = sweep(server, out, "asyncio", n, [*cmd, "--workers", "2", str(
                experiment(out, "asyncio", server.base_url, n))], budget(latency))
            where = ["--ray-address", address] if address else []
            on_ray = sweep(server, out, "ray", n, [*cmd, "--executor", "ray", *where, str(
                experiment(out, "ray", server.base_url, n))], budget(latency) + 300)
    finally:
        stop()
    ratio_lines(on_ray, latency, None)
    print(f"  ray / asyncio: wall {on_ray.wall_s / aio.wall_s:.2f} ({on_ray.wall_s:.2f} s vs "
          f"{aio.wall_s:.2f} s), sweep {on_ray.sweep_s / aio.sweep_s:.2f} "
          f"({on_ray.sweep_s:.2f} s vs {aio.sweep_s:.2f} s)")
    where = f"{args.ray_nodes} nodes at {address}, started before the timed run" if address \
        else "a local ray.init by the CLI (its start inside the wall)"
    print(f"  Ray: {where}; server max calls in flight {on_ray.server['max_in_flight']} (asyncio: "
          f"{aio.server['max_in_flight']})")
    machine("after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--critical", action="store_true", help="case 1 (N=100 at 0.2 s)")
    parser.add_argument("--thousand", action="store_true", help="case 2 (N=1000 at 2 s)")
    parser.add_argument("--ray", action="store_true", help="case 3 (Ray vs asyncio, N=100)")
    parser.add_argument("--quick", action="store_true", help="small N, 0.05-0.1 s calls")
    parser.add_argument("--ray-nodes", type=int, default=0,
                        help="start a local Ray cluster of K one-CPU nodes (default 0: the "
                        "CLI's own local ray.init)")
    parser.add_argument("--no-cache", action="store_true",
                        help="pass --no-cache to the main command (cases 1 and 2)")
    parser.add_argument("--keep", action="store_true", help="keep the run folders")
    args = parser.parse_args()
    args.extra = ["--no-cache"] if args.no_cache else []
    chosen = [case for flag, case in ((args.critical, case_critical),
                                      (args.thousand, case_thousand), (args.ray, case_ray)) if flag]
    out = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    print(f"bench_scale{' --quick' if args.quick else ''}: run folders under {out}")
    if args.quick:
        print("--quick is a smoke run: its sizes are too small for the targets to mean anything")
    for case in chosen or [case_critical, case_thousand, case_ray]:
        case(args, out)  # a failure exits here, leaving the run folders to look at
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
