#!/usr/bin/env python
"""Concurrency benchmark: N sessions of ``base`` (vote off) against a loopback OpenAI-compatible
server that answers every call with a well-formed negotiation turn after a fixed latency.

(a) the paper's way: one session at a time, one call in flight (concurrency 1);
(b) the sweep runner: concurrency N, ``rate_limits={"openai": RateLimit(max_in_flight=N)}``.

Prints the median wall time of each over the repetitions, the critical-path bound (calls per
session x latency: no schedule can beat it, since a session's calls are sequential), and the
ratios; then (b) alone for a bigger N. ``--diagnose`` explains a missed target (calls in flight,
client CPU per call, event-loop stalls, time in per-turn log writes) and measures the proposed
fixes by patching this process only; ``--profile`` prints a cProfile of one (b) run.

Run from the repository root::

    python benchmarks/bench_concurrency.py            # N=24, 3 reps, then N=100 (~9 min)
    python benchmarks/bench_concurrency.py --quick    # N=8, 1 rep, then N=32 (~1 min)
    python benchmarks/bench_concurrency.py --diagnose --skip-sequential
    python benchmarks/bench_concurrency.py --with-fixes   # the proposed library fixes patched in

The server runs in a child process (``--serve``), so its threads do not share the benchmark's
GIL (a real provider is remote too). It speaks HTTP/1.1 with keep-alive and listens with a
1024-connection backlog; ``tests.fakes.FakeLLMServer`` is HTTP/1.0 (a new TCP connection per
call) with the stdlib's backlog of 5, which refuses part of a burst of 24+ simultaneous
connections (``--diagnose`` shows it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.fake_llm_server import count_words, prompt_text  # noqa: E402
from tests.fakes.negotiation_replies import turn_text  # noqa: E402

GAME = ROOT / "games_descriptions" / "base"


# --------------------------------------------------------------------------- loopback server

class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {"max_in_flight": self.max_in_flight, "requests": self.requests}

    def reset(self) -> None:
        with self.lock:
            self.max_in_flight, self.requests = self.in_flight, 0


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the stdlib default (5) refuses bursts of new connections
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers
    disable_nagle_algorithm = True
    stats: _Stats
    delay_s: float

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, payload: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._send(self.stats.snapshot())

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.startswith("/reset"):
            self.stats.reset()
            self._send({})
            return
        arrived = time.perf_counter()
        with self.stats.lock:
            self.stats.in_flight += 1
            self.stats.requests += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            text = turn_text(body)
            prompt, completion = count_words(prompt_text(body)), count_words(text)
            time.sleep(max(0.0, self.delay_s - (time.perf_counter() - arrived)))
        finally:
            with self.stats.lock:
                self.stats.in_flight -= 1
        self._send({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        })


def serve(delay_s: float) -> None:
    """Child-process entry: print the port, serve until stdin closes."""
    handler = type("H", (_Handler,), {"stats": _Stats(), "delay_s": delay_s})
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # parent closes the pipe (or dies): stop
    server.shutdown()


class LoopbackServer:
    """The server above in a child process."""

    def __init__(self, delay_s: float) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", "--delay", str(delay_s)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def _call(self, method: str, path: str) -> dict[str, Any]:
        import http.client

        conn = http.client.HTTPConnection(self.url.removeprefix("http://"), timeout=10)
        conn.request(method, path, body=b"{}" if method == "POST" else None,
                     headers={"Content-Type": "application/json"})
        data = json.loads(conn.getresponse().read())
        conn.close()
        return data

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict[str, int]:
        return self._call("GET", "/stats")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --------------------------------------------------------------------------- measurement

def make_plan(base_url: str, n: int, concurrency: int, out: Path) -> Any:
    from negotiation.backends.base import GenerateConfig
    from negotiation.runs.setup import RunSettings
    from negotiation.runs.specs import ExperimentPlan, RateLimit, SessionSpec

    settings = RunSettings(model=f"openai:fake@{base_url}", vote=False, seed=3,
                           generation=GenerateConfig(timeout_s=60.0))
    specs = tuple(SessionSpec(game=GAME, settings=settings, index=i, label=f"s{i}")
                  for i in range(n))
    return ExperimentPlan(name="bench", out=out, sessions=specs, concurrency=concurrency,
                          rate_limits={"openai": RateLimit(max_in_flight=concurrency)})


class LagMonitor:
    """Samples event-loop stalls: how late a 5 ms sleep wakes up."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self) -> None:
        tick = 0.005
        while True:
            started = time.perf_counter()
            await asyncio.sleep(tick)
            self.lags.append(time.perf_counter() - started - tick)


@contextlib.contextmanager
def instrumented() -> Iterator[dict[str, Any]]:
    """Count time in per-turn log writes and event-loop stalls during one run_plan call."""
    import negotiation.protocol.engine as engine
    from negotiation.runs.sweep import Sweep

    figures: dict[str, Any] = {"save_s": [], "monitor": LagMonitor()}
    original_save, original_run = engine.save_log, Sweep.run

    def timed_save(log: Any, path: Path) -> None:
        started = time.perf_counter()
        original_save(log, path)
        figures["save_s"].append(time.perf_counter() - started)

    async def monitored_run(self: Any) -> None:
        task = asyncio.create_task(figures["monitor"].run())
        try:
            await original_run(self)
        finally:
            task.cancel()

    engine.save_log, Sweep.run = timed_save, monitored_run  # type: ignore[method-assign]
    try:
        yield figures
    finally:
        engine.save_log, Sweep.run = original_save, original_run  # type: ignore[method-assign]


def run_once(server: Any, n: int, concurrency: int, instrument: bool = False,
             profile: cProfile.Profile | None = None,
             drains: list[Callable[[], None]] | None = None) -> dict[str, Any]:
    """One sweep of ``n`` sessions; wall time and what the server and client saw."""
    from negotiation.protocol.engine import plan_steps
    from negotiation.runs.sweep import run_plan

    out = Path(tempfile.mkdtemp(prefix="bench_conc_"))
    plan = make_plan(server.openai_base_url, n, concurrency, out)
    server.reset()
    ctx = instrumented() if instrument else contextlib.nullcontext({})
    try:
        with ctx as figures:
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            if profile is not None:
                profile.enable()
            jobs, summary = run_plan(plan)
            for drain in drains or ():
                drain()
            if profile is not None:
                profile.disable()
            wall = time.perf_counter() - started
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    stats = server.stats()
    turns = [t for j in jobs for t in j.log.turns]
    result: dict[str, Any] = {
        "wall": wall, "completed": summary["completed"], "failed": summary["failed"],
        "calls": len(turns), "steps": len(plan_steps(jobs[0].log)),
        "server_max_in_flight": stats["max_in_flight"], "server_requests": stats["requests"],
        "retries": sum(t.retries for t in turns),
        "call_latency_median": statistics.median(t.latency_s for t in turns),
        "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
    }
    if instrument:
        lags = figures["monitor"].lags
        result.update(save_total=sum(figures["save_s"]),
                      save_median=statistics.median(figures["save_s"]),
                      loop_stall_total=sum(lags), loop_stall_max=max(lags, default=0.0))
    return result


def median_runs(server: Any, n: int, concurrency: int, reps: int, label: str,
                drains: list[Callable[[], None]] | None = None) -> tuple[float, list[dict[str, Any]]]:
    runs = []
    for rep in range(reps):
        r = run_once(server, n, concurrency, drains=drains)
        runs.append(r)
        print(f"  {label} rep {rep + 1}/{reps}: {r['wall']:.2f} s  (completed {r['completed']}/{n}, "
              f"server max in flight {r['server_max_in_flight']}, retries {r['retries']}, "
              f"median call {1000 * r['call_latency_median']:.0f} ms, "
              f"client CPU {1000 * r['cpu_s'] / max(r['calls'], 1):.1f} ms/call)", flush=True)
    return statistics.median(r["wall"] for r in runs), runs


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --------------------------------------------------------------------------- diagnosis

FIXES = {
    "cap": "lift the LimitedBackend(8) that wraps the sweep's one shared OpenAI client",
    "bgsave": "per-turn log writes (write + fsync + rename) off the event loop",
    "nofsync": "per-turn log writes without fsync (still atomic via os.replace)",
    "jinja": "one compiled Jinja environment per prompts folder, not one per session",
    "meta": "package versions read once per process, not once per session (new_log)",
    "shard": "one OpenAI client (httpx pool) per 8 sessions instead of one for the whole sweep",
}
SHARD_SESSIONS = 8
ALL_FIXES = ("cap", "bgsave", "jinja", "meta")
VARIANTS = [("shipped", ()), ("cap", ("cap",)), ("cap+bgsave", ("cap", "bgsave")),
            ("cap+nofsync", ("cap", "nofsync")), ("all", ALL_FIXES),
            ("all+shard", ALL_FIXES + ("shard",))]


@contextlib.contextmanager
def patched(fixes: tuple[str, ...]) -> Iterator[list[Callable[[], None]]]:
    """The proposed library fixes, applied to this process only (library files unchanged).

    Yields a list of "drain" callables to run inside the timed region (pending writes)."""
    import concurrent.futures
    import functools

    import negotiation.backends.openai_backend as openai_backend
    import negotiation.logs.records as records
    import negotiation.protocol.engine as engine
    import negotiation.protocol.prompting as prompting
    import negotiation.runs.sweep as sweep

    undo: list[Callable[[], None]] = []
    drains: list[Callable[[], None]] = []
    if "cap" in fixes:
        cls = openai_backend.OpenAIBackend
        had, old = "max_concurrency" in cls.__dict__, cls.__dict__.get("max_concurrency")
        cls.max_concurrency = property(lambda self: 1 << 20)  # type: ignore[method-assign,assignment]
        undo.append(lambda: setattr(cls, "max_concurrency", old) if had
                    else delattr(cls, "max_concurrency"))
    if "nofsync" in fixes:
        real_fsync = records.os.fsync
        records.os.fsync = lambda fd: None  # type: ignore[assignment]
        undo.append(lambda: setattr(records.os, "fsync", real_fsync))
    if "bgsave" in fixes:
        # serialise on the loop (the log is mutated there), write in a FIFO worker thread
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        pending: list[concurrent.futures.Future[None]] = []
        real_save = engine.save_log

        def queued_save(log: Any, path: Path) -> None:
            pending.append(pool.submit(records.write_atomic, path,
                                       log.model_dump_json(indent=1) + "\n"))

        def drain() -> None:
            for future in pending:
                future.result()
            pending.clear()

        engine.save_log = queued_save  # type: ignore[assignment]
        drains.append(drain)
        undo.append(lambda: (setattr(engine, "save_log", real_save), pool.shutdown(wait=True)))
    if "shard" in fixes:
        # httpcore scans every pooled connection (a poll() syscall each) on every request, so
        # one pool of N connections costs O(N) per call; shards keep each pool small
        real_make = sweep.make_backends

        def sharded(game: Any, log: Any, base_url: Any, cache: dict[str, Any]) -> Any:
            tag = f"#shard{log.session_index // SHARD_SESSIONS}"
            mine = {k.removesuffix(tag): v for k, v in cache.items() if k.endswith(tag)}
            out = real_make(game, log, base_url, mine)
            cache.update({k + tag: v for k, v in mine.items()})  # the sweep closes them
            return out

        sweep.make_backends = sharded  # type: ignore[assignment]
        undo.append(lambda: setattr(sweep, "make_backends", real_make))
    if "meta" in fixes:
        import negotiation.runs.setup as session

        real_versions = session.package_versions
        session.package_versions = functools.lru_cache(maxsize=None)(real_versions)  # type: ignore[assignment]
        undo.append(lambda: setattr(session, "package_versions", real_versions))
    if "jinja" in fixes:
        real_env = prompting.make_environment
        prompting.make_environment = functools.lru_cache(maxsize=None)(real_env)  # type: ignore[assignment]
        undo.append(lambda: setattr(prompting, "make_environment", real_env))
    try:
        yield drains
    finally:
        for step in reversed(undo):
            step()


class _NoServer:
    """Stands in for the server when the backend itself is replaced (harness-only rows)."""

    openai_base_url = "http://127.0.0.1:9/v1"

    def reset(self) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {"max_in_flight": 0, "requests": 0}


@contextlib.contextmanager
def sleeping_backend(delay: float) -> Iterator[None]:
    """The OpenAI backend replaced by ``asyncio.sleep(delay)``: the harness without HTTP."""
    import negotiation.backends.openai_backend as openai_backend
    from negotiation.backends.base import Completion

    real = openai_backend.OpenAIBackend.generate

    async def generate(self: Any, messages: Any, config: Any) -> Any:
        await asyncio.sleep(delay)
        body = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        return Completion(text=turn_text(body), input_tokens=1, output_tokens=1, latency_s=delay)

    openai_backend.OpenAIBackend.generate = generate  # type: ignore[method-assign]
    try:
        yield
    finally:
        openai_backend.OpenAIBackend.generate = real  # type: ignore[method-assign]


def sdk_only(server: Any, n: int, steps: int) -> dict[str, Any]:
    """The OpenAI SDK alone: n workers x ``steps`` sequential calls on one ``AsyncOpenAI``,
    with prompts of the size the sessions send (no harness, no logs)."""
    import openai

    system, user = "word " * 1100, "word " * 250

    async def main() -> list[float]:
        client = openai.AsyncOpenAI(api_key="bench", base_url=server.openai_base_url,
                                    max_retries=0)
        latencies: list[float] = []

        async def worker() -> None:
            for _ in range(steps):
                started = time.perf_counter()
                await client.chat.completions.create(
                    model="fake", max_tokens=512, temperature=0.0, seed=1, timeout=60,
                    messages=[{"role": "system", "content": system},
                              {"role": "user", "content": user + "<DEAL>"}])
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(n)))
        await client.close()
        return latencies

    server.reset()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    latencies = asyncio.run(main())
    wall = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall": wall, "calls": len(latencies), "retries": 0,
            "server_max_in_flight": server.stats()["max_in_flight"],
            "call_latency_median": statistics.median(latencies),
            "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)}


def diagnose(server: Any, sizes: list[int], bound: float, delay: float, steps: int) -> None:
    print("\n== diagnosis: (b) at concurrency N, one instrumented run per row ==")
    print("fixes (patched into this process only; 'all' = " + "+".join(ALL_FIXES) + "):")
    for name, text in FIXES.items():
        print(f"  {name:<8} {text}")
    print("  fake-server: tests.fakes.FakeLLMServer in-process (HTTP/1.0, backlog 5), all fixes\n"
          "  harness-only: all fixes, the OpenAI backend replaced by asyncio.sleep (no HTTP)\n"
          "  sdk-only: a bare AsyncOpenAI client, N tasks x calls-per-session calls (no harness)")
    print(f"{'N':>4} {'variant':<13} {'wall s':>7} {'/bound':>7} {'srv max':>7} {'retries':>7} "
          f"{'call ms':>7} {'cpu ms/call':>11} {'saves s':>7} {'save ms':>7} {'stall s':>7} "
          f"{'stall max ms':>12}")
    for n in sizes:
        rows: list[tuple[str, tuple[str, ...], str]] = [(v, f, "server") for v, f in VARIANTS]
        rows += [("fake-server", ALL_FIXES, "fake"), ("harness-only", ALL_FIXES, "none"),
                 ("sdk-only", (), "sdk")]
        for variant, fixes, kind in rows:
            fake = None
            try:
                if kind == "sdk":
                    r = sdk_only(server, n, steps)
                elif kind == "none":
                    with patched(fixes) as drains, sleeping_backend(delay):
                        r = run_once(_NoServer(), n, n, instrument=True, drains=drains)
                else:
                    target = server
                    if kind == "fake":
                        from tests.fakes.fake_llm_server import FakeLLMServer
                        from tests.fakes.negotiation_replies import replies

                        fake = target = FakeLLMServer(replies(), delay_s=delay).start()
                        fake.reset = lambda: None  # type: ignore[attr-defined]
                        fake.stats = lambda f=fake: {  # type: ignore[attr-defined]
                            "max_in_flight": f.max_in_flight, "requests": len(f.requests)}
                    with patched(fixes) as drains:
                        r = run_once(target, n, n, instrument=True, drains=drains)
            finally:
                if fake is not None:
                    fake.stop()
            saves = (f"{r['save_total']:>7.2f} {1000 * r['save_median']:>7.2f} "
                     f"{r['loop_stall_total']:>7.2f} {1000 * r['loop_stall_max']:>12.1f}"
                     if "save_total" in r else f"{'-':>7} {'-':>7} {'-':>7} {'-':>12}")
            print(f"{n:>4} {variant:<13} {r['wall']:>7.2f} {r['wall'] / bound:>7.2f} "
                  f"{r['server_max_in_flight']:>7} {r['retries']:>7} "
                  f"{1000 * r['call_latency_median']:>7.0f} "
                  f"{1000 * r['cpu_s'] / r['calls']:>11.2f} {saves}", flush=True)
    print("call ms: median client-side call latency; cpu ms/call: this process's CPU time / calls; "
          "saves s / save ms: event-loop time in per-turn log writes (total / median); stall: "
          "how late a 5 ms timer fired (total / worst): the loop blocked or starved of CPU")


def _group(filename: str, name: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        if any(k in name for k in ("posix.fsync", "posix.replace", "posix.open", "io.open",
                                   "posix.stat", "posix.unlink")):
            return "file I/O (log writes)"
        if "socket" in name:
            return "socket syscalls"
        if "epoll" in name:
            return "epoll wait (idle)"
        return "other C calls"
    for key in ("openai", "httpx2", "httpcore2", "anyio", "h11", "pydantic", "jinja2", "tenacity",
                "negotiation", "asyncio", "email", "json", "socket", "ssl", "typing"):
        if f"/{key}/" in filename or filename.endswith(f"/{key}.py"):
            return key
    return "other"


def profile_run(server: Any, n: int, fixes: tuple[str, ...], top: int = 25) -> None:
    profile = cProfile.Profile()
    with patched(fixes) as drains:
        r = run_once(server, n, n, profile=profile, drains=drains)
    print(f"\n== cProfile of (b), N={n}, fixes {'+'.join(fixes) or 'none'}: wall {r['wall']:.2f} s, "
          f"client CPU {r['cpu_s']:.2f} s for {r['calls']} calls (profiling inflates both) ==")
    stats = pstats.Stats(profile)
    groups: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = _group(filename, name)
        groups[key] = groups.get(key, 0.0) + tottime
    total = sum(groups.values())
    print("own time by package (ms per call):")
    for name, secs in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<20} {1000 * secs / r['calls']:7.2f}  ({100 * secs / total:4.1f}%)")
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    print(buffer.getvalue())


# --------------------------------------------------------------------------- main

def measure(args: argparse.Namespace, server: LoopbackServer, n: int, big_n: int,
            reps: int) -> None:
    fixes = ALL_FIXES if args.with_fixes else ()
    with patched(fixes) as drains:
        print(f"library: {'with the proposed fixes patched in: ' + '+'.join(fixes) if fixes else 'as shipped'}")
        print(f"loopback server {server.url}: {1000 * args.delay:.0f} ms per call; game base, "
              f"vote off; load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
        warm = run_once(server, 1, 1, drains=drains)  # imports, template compilation, first connection
        steps = warm["steps"]
        bound = steps * args.delay
        print(f"calls per session {steps}; critical-path bound {steps} x {args.delay:.3f} s = "
              f"{bound:.2f} s")
        seq = None
        if not args.skip_sequential:
            print(f"(a) {n} sessions one at a time, one call in flight (concurrency 1):")
            seq, _ = median_runs(server, n, 1, reps, "(a)", drains)
        print(f"(b) sweep runner, concurrency {n}, max_in_flight {n}:")
        par, _ = median_runs(server, n, n, reps, "(b)", drains)
        print(f"\nN={n}: median (a) {'-' if seq is None else f'{seq:.2f} s'}, median (b) "
              f"{par:.2f} s, bound {bound:.2f} s")
        print(f"  (b)/bound = {par / bound:.2f}  target <= 1.25: {verdict(par / bound <= 1.25)}")
        if seq is not None:
            target = 0.75 * n  # 18 at N = 24
            print(f"  (a)/(b)   = {seq / par:.1f}  target >= {target:g} (0.75 N): "
                  f"{verdict(seq / par >= target)}")
            print(f"  (a)/bound = {seq / bound:.1f} (ideal {n})")
        if big_n:
            print(f"(b) sweep runner, N={big_n}, concurrency {big_n}:")
            big, _ = median_runs(server, big_n, big_n, reps, "(b)", drains)
            print(f"N={big_n}: median (b) {big:.2f} s, bound {bound:.2f} s, (b)/bound = "
                  f"{big / bound:.2f}  target <= 1.25: {verdict(big / bound <= 1.25)}")
    if args.diagnose:
        diagnose(server, [n] + ([big_n] if big_n else []), bound, args.delay, steps)
    if args.profile:
        profile_run(server, big_n or n, ALL_FIXES)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=8, 1 rep, big N=32")
    parser.add_argument("--n", type=int, help="sessions for (a) and (b) (default 24)")
    parser.add_argument("--big-n", type=int, help="sessions for the (b)-only run (default 100; "
                        "0 skips it)")
    parser.add_argument("--reps", type=int, help="repetitions (default 3)")
    parser.add_argument("--delay", type=float, default=0.2, help="server latency per call, s")
    parser.add_argument("--skip-sequential", action="store_true", help="skip (a) (~2 min/rep)")
    parser.add_argument("--diagnose", action="store_true", help="explain a missed target")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one (b) run at the big N, all fixes patched in")
    parser.add_argument("--with-fixes", action="store_true",
                        help="measure with the proposed library fixes patched in (cap, bgsave, "
                        "jinja, meta; this process only)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.delay)
        return
    n = args.n or (8 if args.quick else 24)
    big_n = args.big_n if args.big_n is not None else (32 if args.quick else 100)
    reps = args.reps or (1 if args.quick else 3)

    import logging

    logging.disable(logging.WARNING)  # retry warnings would flood the output; counted instead
    server = LoopbackServer(args.delay)
    try:
        measure(args, server, n, big_n, reps)
    finally:
        server.close()


if __name__ == "__main__":
    main()
