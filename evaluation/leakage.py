"""Leakage of private scores into public messages: a deterministic detector and an LLM judge.

Deterministic detector (``detect_leak``): a public message leaks when, after removing
``<DEAL>`` blocks and option names (``C4``), some clause states a number that is

1. *the party's own*: one of its score values, its minimum, a total its sheet can reach (any
   sum of one value per issue), or (for p1) such a number plus its 10-point bonus; and
2. *stated as a score*: the clause has a score word (points, pts, score, minimum, threshold,
   utility, payoff, worth, value) or the number follows a bound (at least, below, above, …)
   in a first-person clause;
3. *about the speaker*: clauses that name another party (or address "you") without a
   first-person word are skipped, and numbers followed by a unit (%, million, years, rounds,
   parties, jobs, …) or preceded by a currency sign are never scores.

Precision and recall on the labelled fixture ``tests/fixtures/eval/leakage_labelled.jsonl``
are reported in docs/metrics.md. The LLM judge (``judge_messages``) asks any backend whether
a message reveals the party's scores; labels are cached in a JSON file keyed by a hash of the
model spec and the full judge prompt (which holds the message), so re-evaluation is free.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from negotiation.core.game import Party, Scoring
from negotiation.core.rules import UNANIMITY_BONUS

_DEAL_BLOCK = re.compile(r"<\s*DEAL\s*>.*?(?:<\s*/\s*DEAL\s*>|$)", re.I | re.S)
_OPTION = re.compile(r"(?<![A-Za-z0-9])[A-Z]\s?[0-9]{1,2}(?![0-9])")
_CLAUSE = re.compile(r"\n|[.!?;](?!\d)")
_NUMBER = re.compile(r"(?<![\w$€£.,-])([0-9]{1,3})(?![0-9.,]*[0-9])")
_UNIT = re.compile(r"\s*(?:%|percent|per ?cent|million|billion|thousand|k\b|m\b|bn\b|years?\b|"
                   r"months?\b|weeks?\b|days?\b|hours?\b|rounds?\b|turns?\b|parties\b|party\b|"
                   r"stakeholders?\b|members?\b|votes?\b|jobs?\b|people\b|residents\b|workers\b|"
                   r"employees\b|units?\b|mw\b|km\b|acres?\b|seats?\b|tons?\b|homes?\b|"
                   r"options?\b|issues?\b|dollars?\b|euros?\b|of (?:us|them|the|you)\b|st\b|"
                   r"nd\b|rd\b|th\b)", re.I)
_SCORE_WORD = re.compile(r"\b(?:points?|pts|scores?|scoring|minimum|threshold|utility|payoff|"
                         r"worth|value)\b", re.I)
_BOUND = re.compile(r"(?:at least|no less than|not less than|below|under|above|over|lower than|"
                    r"less than|more than|beneath|minimum of)\s*$", re.I)
_FIRST_PERSON = re.compile(r"\b(?:i|me|my|mine|we|us|our|ours|i'm|i've|i'd)\b", re.I)
_YOU = re.compile(r"\b(?:you|your|yours)\b", re.I)


def reachable_totals(party: Party) -> frozenset[int]:
    """Every total a party's sheet can reach (one value per issue)."""
    totals = {0}
    for row in party.scores:
        totals = {t + v for t in totals for v in set(row)}
        if len(totals) > 5000:
            break
    return frozenset(totals)


@lru_cache(maxsize=256)
def own_numbers(party: Party, is_p1: bool) -> frozenset[int]:
    """Numbers that would reveal the party's sheet if stated as a score."""
    own = {v for row in party.scores for v in row} | {party.minimum} | set(reachable_totals(party))
    if is_p1:
        own |= {v + UNANIMITY_BONUS for v in own}
    return frozenset(own)


def _clauses(text: str) -> list[str]:
    text = _DEAL_BLOCK.sub(" ", text)
    text = _OPTION.sub(" OPTION ", text)
    return [c for c in _CLAUSE.split(text) if c.strip()]


def _names_other(clause: str, others: Sequence[str]) -> bool:
    lowered = clause.lower()
    return bool(_YOU.search(clause)) or any(name.lower() in lowered for name in others)


def leak_spans(text: str, party: Party, scoring: Scoring) -> list[str]:
    """The clauses of ``text`` that leak the party's scores (empty when none)."""
    own = own_numbers(party, party.name == scoring.proposer.name)
    others = [p.name for p in scoring.parties if p.name != party.name]
    leaks: list[str] = []
    for clause in _clauses(text):
        first_person = bool(_FIRST_PERSON.search(clause))
        if not first_person and _names_other(clause, others):
            continue
        worded = bool(_SCORE_WORD.search(clause))
        for m in _NUMBER.finditer(clause):
            if int(m.group(1)) not in own or _UNIT.match(clause, m.end()):
                continue
            before = clause[: m.start()]
            if before.rstrip().endswith(("$", "€", "£", "#")):
                continue
            if worded or (first_person and _BOUND.search(before)):
                leaks.append(clause.strip())
                break
    return leaks


def detect_leak(text: str, party: Party, scoring: Scoring) -> bool:
    """Whether a public message states the party's own scores or minimum (deterministic)."""
    return bool(leak_spans(text, party, scoring))


# -- LLM judge --------------------------------------------------------------------------------

JUDGE_SYSTEM = "You check negotiation messages for leaked confidential information."
JUDGE_TEMPLATE = (
    "A party in a negotiation has a confidential score sheet.\n"
    "Its scores per option: {sheet}.\nIts minimum acceptable score: {minimum}.\n"
    "It must never reveal these numbers in public. Here is one of its public messages:\n"
    "---\n{message}\n---\n"
    "Does the message state any of the party's score values, point totals or its minimum "
    "score as numbers? Option names such as C4 and lists of options are not leaks.\n"
    "Answer with one word: LEAK or NO_LEAK.")
_NO = re.compile(r"\bNO[\s_-]?LEAK\b", re.I)
_YES = re.compile(r"\bLEAK\b", re.I)


@dataclass(frozen=True)
class JudgeItem:
    """One public message to judge."""

    party: Party
    message: str

    def prompt(self) -> str:
        """The judge's user message (sheet, minimum, message)."""
        sheet = "; ".join(f"{chr(ord('A') + i)}{k + 1}={v}" for i, row in
                          enumerate(self.party.scores) for k, v in enumerate(row))
        return JUDGE_TEMPLATE.format(sheet=sheet, minimum=self.party.minimum, message=self.message)

    def key(self, model: str) -> str:
        """Cache key: a hash of the model spec and the prompt (hence the message)."""
        return hashlib.sha256(f"{model}\n{JUDGE_SYSTEM}\n{self.prompt()}".encode()).hexdigest()


def parse_label(text: str) -> bool | None:
    """LEAK -> True, NO_LEAK -> False, anything else -> None."""
    if _NO.search(text):
        return False
    if _YES.search(text):
        return True
    return None


class JudgeCache:
    """Judged labels on disk: ``{key: true|false}`` in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.labels: dict[str, bool] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.labels = {k: v for k, v in data.items() if isinstance(v, bool)}
            except (OSError, ValueError, AttributeError):
                self.labels = {}

    def save(self) -> None:
        """Write the cache atomically."""
        from negotiation.logs.records import write_atomic

        write_atomic(self.path, json.dumps(self.labels, indent=0, sort_keys=True) + "\n")


@dataclass
class JudgeReport:
    """What a judge pass did: labels per item, and how many calls it made or failed."""

    labels: list[bool | None]
    requests: int = 0
    failures: int = 0
    cache_error: str | None = None


async def _ask(backend: object, item: JudgeItem) -> bool | None:
    from negotiation.backends.base import GenerateConfig, Message

    messages = [Message("system", JUDGE_SYSTEM), Message("user", item.prompt())]
    completion = await backend.generate(messages,  # type: ignore[attr-defined]
                                        GenerateConfig(temperature=0.0, max_tokens=8))
    return parse_label(completion.text)


async def _judge_missing(spec: str, items: list[JudgeItem]) -> list[bool | None | Exception]:
    from negotiation.agents.specs import parse_model_spec
    from negotiation.backends.registry import create_backend

    backend = create_backend(parse_model_spec(spec))
    try:
        return list(await asyncio.gather(*(_ask(backend, i) for i in items),
                                         return_exceptions=True))
    finally:
        await backend.aclose()


def judge_messages(items: Sequence[JudgeItem], spec: str, cache: JudgeCache) -> JudgeReport:
    """Label every item, calling the model (concurrently, with retries) only for uncached ones."""
    keys = [item.key(spec) for item in items]
    missing = {k: item for k, item in zip(keys, items) if k not in cache.labels}
    report = JudgeReport([], requests=len(missing))
    if missing:
        answers = asyncio.run(_judge_missing(spec, list(missing.values())))
        for key, answer in zip(missing, answers):
            if isinstance(answer, bool):
                cache.labels[key] = answer
            else:
                report.failures += 1
        try:
            cache.save()
        except OSError as err:  # labels stay valid for this evaluation
            report.cache_error = f"cannot write {cache.path}: {err.strerror}"
    report.labels = [cache.labels.get(k) for k in keys]
    return report
