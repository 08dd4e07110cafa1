"""Progress displays: per-turn lines for a few sessions, one bar for a sweep."""

from __future__ import annotations

import sys
import time
from typing import Any

from negotiation.core.text import printable
from negotiation.runs.sweep import Job


class TurnPrinter:
    """Prints one line per turn to stderr (``turn i/N, party, tokens, elapsed``)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.start = time.monotonic()

    def __call__(self, kind: str, job: Job) -> None:
        if self.quiet or kind != "turn" or not job.log.turns:
            return
        turn = job.log.turns[-1]
        total = len(job.log.order) + 2 + (len(job.log.parties) - 1 if job.log.vote else 0)
        line = (f"[{job.log.session_index}] turn {len(job.log.turns)}/{total} {turn.phase:<7} "
                f"{turn.party:<28} tokens {turn.input_tokens}+{turn.output_tokens} "
                f"elapsed {time.monotonic() - self.start:.0f}s")
        print(printable(line, single_line=True), file=sys.stderr, flush=True)


class SweepBar:
    """One rich progress bar for a sweep: sessions done/failed, calls in flight, tokens, ETA."""

    def __init__(self, total: int, done: int, counters: Any, quiet: bool = False) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.quiet = quiet
        self.counters = counters
        self.failed = 0
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"),
                                 TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                 disable=quiet, transient=False)
        self.task = self.progress.add_task("sessions", total=total, completed=done, info="")

    def __enter__(self) -> SweepBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, kind: str, job: Job) -> None:
        if kind == "failed":
            self.failed += 1
        advance = 1 if kind in ("done", "failed") else 0
        c = self.counters
        cost = "" if c.prices is None else \
            f" | cost {'>=' if c.unpriced_calls else ''}{c.cost:.4f}"
        info = (f"failed {self.failed} | in flight {c.in_flight} | "
                f"tokens {c.input_tokens}+{c.output_tokens}{cost}")
        self.progress.update(self.task, advance=advance, info=info)
