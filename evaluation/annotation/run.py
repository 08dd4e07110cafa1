"""Label every public message of a run with several LLM annotators: concurrent, cached, resumable.

``annotate_run`` collects the public messages (opening, round and final turns with text) of
every session log under a run folder, renders each annotator's instruction for each message and
asks the models concurrently (``asyncio.gather``, at most ``concurrency`` calls in flight; each
backend keeps its own limit too).

Cache: ``annotations.cache.jsonl`` in the run folder, one JSON line per answered call, appended
(and flushed to disk) as each answer arrives, keyed by SHA-256 of the annotator's fingerprint
(name, model, template, labels, generation settings) and the rendered instruction. A rerun asks
only for keys not in the cache, so it makes no call when nothing changed, and a crash loses
only the calls in flight. Failed calls are not cached (a rerun retries them); a torn last line
is ignored. Answers are stored raw and parsed when the output is built, so parser fixes apply
to cached answers.

Output: ``annotations.jsonl`` in the run folder (rewritten atomically at the end), one row per
message x annotator x label with ``value`` true, false or null (missing: unparseable answer or
failed call).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.annotation.annotators import Annotator, AnnotatorSet, parse_labels
from negotiation.agents.specs import parse_model_spec
from negotiation.backends.base import Backend, FatalError, Message, TransientError
from negotiation.backends.registry import create_backend
from negotiation.core.errors import ConfigError
from negotiation.logs.reading import load_logs
from negotiation.runs.lock import run_lock
from negotiation.logs.records import SessionLog, write_atomic

OUTPUT_NAME = "annotations.jsonl"
CACHE_NAME = "annotations.cache.jsonl"


@dataclass(frozen=True)
class Item:
    """One public message and what a template may show about it."""

    run: str
    session: str
    session_index: int
    turn: int
    context: Mapping[str, Any]


@dataclass(frozen=True)
class Task:
    """One call: an annotator on one message."""

    item: Item
    annotator: Annotator
    prompt: str
    key: str


@dataclass
class AnnotationResult:
    """What a run of the annotators did."""

    path: Path
    rows: list[dict[str, Any]]
    tasks: int = 0
    """(message, annotator) pairs."""
    cached: int = 0
    """Pairs answered from the cache as it was at the start."""
    calls: int = 0
    """Calls answered now (pairs with an identical prompt share one call)."""
    errors: list[str] = field(default_factory=list)
    """Calls that failed (a rerun retries them)."""
    skipped: list[str] = field(default_factory=list)
    """Log files that could not be used (reported, not annotated)."""


def run_folder(target: Path) -> Path:
    """The folder holding the outputs: the run folder, or a session file's folder."""
    return target.parent if target.is_file() else target


def _items(log: SessionLog, context: int) -> list[Item]:
    roles = {p.name: p.role for p in log.parties}
    items, history = [], []
    for turn in log.turns:
        if not turn.phase.is_public or not turn.public.strip():
            continue
        shown = history[-context:] if context else []
        items.append(Item(log.run_name, log.session_id, log.session_index, turn.index, {
            "message": turn.public, "speaker": turn.party, "role": roles.get(turn.party, ""),
            "phase": turn.phase, "game": log.game.name, "history": list(shown)}))
        history.append({"speaker": turn.party, "text": turn.public})
    return items


def collect_items(logs: Sequence[SessionLog], context: int = 0) -> list[Item]:
    """Every public message of the sessions (in the loader's order), turn by turn."""
    return [item for log in logs for item in _items(log, context)]


def call_key(annotator: Annotator, prompt: str) -> str:
    """The cache key of one call."""
    return hashlib.sha256(f"{annotator.fingerprint()}\0{prompt}".encode()).hexdigest()


def make_tasks(items: Sequence[Item], annotators: Sequence[Annotator]) -> list[Task]:
    """Every (message, annotator) call with its rendered instruction."""
    tasks = []
    for item in items:
        for annotator in annotators:
            prompt = annotator.render(item.context)
            tasks.append(Task(item, annotator, prompt, call_key(annotator, prompt)))
    return tasks


class Cache:
    """The append-only answer cache (one JSON object per line, keyed by ``key``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = self._parse(line)
                if entry is not None:
                    self.entries[entry["key"]] = entry

    @staticmethod
    def _parse(line: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return None  # a line torn by a crash: that call is simply asked again
        return entry if isinstance(entry, dict) and isinstance(entry.get("key"), str) else None

    def add(self, entry: dict[str, Any]) -> None:
        """Record an answer and append it durably."""
        self.entries[entry["key"]] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


async def _ask(task: Task, backend: Backend, semaphore: asyncio.Semaphore,
               cache: Cache, result: AnnotationResult) -> None:
    messages = [Message("user", task.prompt)]
    async with semaphore:
        try:
            completion = await backend.generate(messages, task.annotator.generation)
        except (TransientError, FatalError) as err:
            result.errors.append(f"{task.annotator.name} on {task.item.session}#"
                                 f"{task.item.turn}: {err}")
            return
    result.calls += 1
    cache.add({"key": task.key, "annotator": task.annotator.name,
               "model": task.annotator.spec, "session": task.item.session,
               "turn": task.item.turn, "answer": completion.text,
               "model_id": completion.model_id, "input_tokens": completion.input_tokens,
               "output_tokens": completion.output_tokens})


def make_backends(annotators: Sequence[Annotator]) -> dict[str, Backend]:
    """One wrapped backend per annotator (a model that cannot start is a ``ConfigError``)."""
    out = {}
    for a in annotators:
        try:
            out[a.name] = create_backend(parse_model_spec(a.spec))
        except FatalError as err:
            raise ConfigError(f"annotator {a.name}: {err}") from None
    return out


def output_rows(tasks: Sequence[Task], cache: Cache) -> list[dict[str, Any]]:
    """One row per message x annotator x label (value None when missing)."""
    rows = []
    for task in tasks:
        entry = cache.entries.get(task.key)
        labels = task.annotator.label_names
        values = parse_labels(entry["answer"], labels) if entry else dict.fromkeys(labels)
        item = task.item
        for label in labels:
            rows.append({"run": item.run, "session": item.session,
                         "session_index": item.session_index, "turn": item.turn,
                         "party": item.context["speaker"], "role": item.context["role"],
                         "phase": item.context["phase"], "game": item.context["game"],
                         "annotator": task.annotator.name, "model": task.annotator.spec,
                         "label": label, "value": values[label],
                         "answered": entry is not None, "key": task.key})
    return rows


async def _run(pending: Sequence[Task], backends: Mapping[str, Backend], concurrency: int,
               cache: Cache, result: AnnotationResult) -> None:
    semaphore = asyncio.Semaphore(concurrency)
    try:
        await asyncio.gather(*(_ask(t, backends[t.annotator.name], semaphore, cache, result)
                               for t in pending))
    finally:
        for backend in backends.values():
            await backend.aclose()


def annotate_run(target: Path, config: AnnotatorSet, concurrency: int = 8,
                 backends_factory: Callable[[Sequence[Annotator]], Mapping[str, Backend]]
                 = make_backends) -> AnnotationResult:
    """Annotate every public message under ``target``; write the cache and the output."""
    if concurrency < 1:
        raise ConfigError("--concurrency must be >= 1")
    folder = run_folder(target)
    with run_lock(folder):  # annotations are written into the run folder
        return _annotate(target, folder, config, concurrency, backends_factory)


def _annotate(target: Path, folder: Path, config: AnnotatorSet, concurrency: int,
              backends_factory: Callable[[Sequence[Annotator]], Mapping[str, Backend]]
              ) -> AnnotationResult:
    found = load_logs(target)
    if not found.entries:
        raise ConfigError(f"{target}: no usable session logs ({'; '.join(found.problems)})")
    tasks = make_tasks(collect_items(found.logs, config.context), config.annotators)
    cache = Cache(folder / CACHE_NAME)
    unique = {t.key: t for t in tasks if t.key not in cache.entries}
    cached = sum(t.key in cache.entries for t in tasks)
    result = AnnotationResult(folder / OUTPUT_NAME, [], tasks=len(tasks), cached=cached,
                              skipped=list(found.problems))
    if unique:
        asyncio.run(_run(list(unique.values()), backends_factory(config.annotators),
                         concurrency, cache, result))
    result.rows = output_rows(tasks, cache)
    write_rows(result.path, result.rows)
    return result


def write_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write rows as JSON lines, atomically."""
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read ``annotations.jsonl`` rows (``ConfigError`` when missing or malformed)."""
    if not path.is_file():
        raise ConfigError(f"{path}: no annotations yet (run annotate with --annotators first)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}:{number}: not a JSON line ({err.msg})") from None
    return rows
