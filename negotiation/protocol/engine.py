"""The round engine: runs one session step by step, saving the log after every turn.

A session is a sequence of steps: p1's opening, the discussion turns, p1's final proposal, then
the votes; optionally a summarizer writes a running summary every K discussion turns and a
moderator picks each next speaker. The next step is always derived from the turns already
logged (and the stored speaking order), so a resumed session continues exactly where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from negotiation.backends.base import Backend, Completion, GenerateConfig, Message
from negotiation.core.game import Game, Party
from negotiation.protocol.outcome import conclude
from negotiation.protocol.parsing import parse_output, parse_vote
from negotiation.protocol.prompting import HistoryEntry, PromptBuilder
from negotiation.logs.records import SessionLog, TurnRecord, write_atomic
from negotiation.core.rules import parse_deal, score
from negotiation.protocol.speakers import pick_named, successor
from negotiation.logs.clock import now_iso
from negotiation.protocol.turn_records import make_turn, skipped_vote

SUMMARIZER, MODERATOR = "@summarizer", "@moderator"


@dataclass(frozen=True)
class Step:
    """One model call of the session."""

    index: int
    phase: str
    party: str
    final_turn: bool = False


TurnCallback = Callable[[SessionLog, TurnRecord, int], None]


def derive_seed(seed: int, index: int) -> int:
    """A per-call seed derived from the session seed and the step index."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def total_steps(log: SessionLog) -> int:
    """How many turns a complete session of this log has."""
    extra = log.rounds // log.summary_every if log.memory == "summary" and log.summary_every else 0
    moderator = log.rounds if log.order_policy == "moderator" else 0
    votes = len(log.parties) - 1 if log.vote else 0
    return 1 + log.rounds + 1 + votes + extra + moderator


def plan_steps(log: SessionLog) -> list[Step]:
    """All steps of a session with a static speaking order (not for the moderator policy)."""
    if log.order_policy == "moderator":
        raise ValueError("the moderator policy decides the order turn by turn")
    steps = [Step(0, "opening", log.proposer)]
    every = log.summary_every if log.memory == "summary" else 0
    for i, name in enumerate(log.order):
        steps.append(Step(len(steps), "round", name, name not in log.order[i + 1:]))
        if every and (i + 1) % every == 0:
            steps.append(Step(len(steps), "summary", SUMMARIZER))
    steps.append(Step(len(steps), "final", log.proposer))
    if log.vote:
        steps += [Step(len(steps) + i, "vote", p.name) for i, p in
                  enumerate(q for q in log.parties if q.name != log.proposer)]
    return steps


def next_step(log: SessionLog) -> Step | None:
    """The step after the logged turns; None when the session is over."""
    turns, index = log.turns, len(log.turns)
    rounds_done = sum(1 for t in turns if t.phase == "round")
    if not turns:
        return Step(0, "opening", log.proposer)
    last = turns[-1].phase
    if (log.memory == "summary" and log.summary_every and last == "round"
            and rounds_done % log.summary_every == 0):
        return Step(index, "summary", SUMMARIZER)
    if rounds_done < log.rounds:
        if len(log.order) <= rounds_done:
            return Step(index, "moderator", MODERATOR)
        speaker = log.order[rounds_done]
        static = log.order_policy != "moderator"
        is_last = static and speaker not in log.order[rounds_done + 1:]
        return Step(index, "round", speaker, final_turn=is_last)
    if not any(t.phase == "final" for t in turns):
        return Step(index, "final", log.proposer)
    voted = {t.party for t in turns if t.phase == "vote"}
    waiting = [p.name for p in log.parties if p.name != log.proposer and p.name not in voted]
    return Step(index, "vote", waiting[0]) if log.vote and waiting else None


class SessionRunner:
    """Runs (or resumes) one session of ``game`` with one backend per party (and helpers)."""

    def __init__(self, game: Game, backends: Mapping[str, Backend], log: SessionLog,
                 path: Path, on_turn: TurnCallback | None = None) -> None:
        self.game = game
        self.backends = backends
        self.log = log
        self.path = path
        self.on_turn = on_turn
        self.prompts = PromptBuilder(game)

    def _party(self, name: str) -> Party:
        return self.game.scoring.party(name)

    async def run(self) -> SessionLog:
        """Run the remaining steps; a provider failure marks the session failed."""
        try:
            while (step := next_step(self.log)) is not None:
                if step.phase == "vote":
                    await self._votes()
                elif step.phase in ("summary", "moderator"):
                    await self._append(await self._helper(step))
                else:
                    await self._append(await self._speak(step))
            conclude(self.log, self.game.scoring)
            self.log.status = "complete"
            await self._save()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # recorded, then re-raised: the log keeps the cause
            self.log.status = "failed"
            self.log.error = f"{type(err).__name__}: {err}"
            await self._save()
            raise
        return self.log

    def _public(self) -> list[HistoryEntry]:
        return [HistoryEntry(t.speaker or t.party, t.public) for t in self.log.turns
                if t.phase in ("opening", "round")]

    def _history(self) -> list[HistoryEntry]:
        public = self._public()
        return public[-self.log.window:] if self.log.window > 0 else []

    def _summaries(self) -> list[str]:
        return [t.public for t in self.log.turns if t.phase == "summary"]

    def _plan(self, name: str) -> str:
        plans = [t.plan for t in self.log.turns
                 if (t.speaker or t.party) == name and t.phase != "vote"]
        return plans[-1] if plans else ""

    def _speaker(self, name: str) -> str:
        """The speaker behind a step name (a party with several representatives opens, closes
        and votes through its first one)."""
        party = self._party(name)
        return name if name in party.speakers else party.speakers[0]

    def _prompt(self, step: Step) -> str:
        party = self._party(step.party)
        speaker = self._speaker(step.party)
        if step.phase == "opening":
            return self.prompts.opening(party)
        if step.phase == "final":
            return self.prompts.final(party, self._history(), self._plan(speaker),
                                      self._summaries())
        return self.prompts.round(party, self._history(), self._plan(speaker),
                                  step.final_turn, self._summaries(), speaker)

    def _config(self, step: Step, generation: dict[str, object]) -> GenerateConfig:
        return GenerateConfig(**{**generation, "seed": derive_seed(self.log.seed, step.index),
                                 "cache_key": f"{self.log.session_id}:{step.party}"})

    async def _call(self, step: Step, system: str, prompt: str) -> Completion:
        generation, backend = self.log.parties[0].generation, step.party
        if not step.party.startswith("@"):
            backend = self._party(step.party).name
            generation = next(p for p in self.log.parties if p.name == backend).generation
        messages = [Message("system", system), Message("user", prompt)]
        return await self.backends[backend].generate(messages, self._config(step, generation))

    def _initial(self, name: str) -> str:
        party = self._party(name).name
        record = next(p for p in self.log.parties if p.name == party)
        return record.representatives.get(self._speaker(name), record.initial_prompt)

    async def _speak(self, step: Step) -> TurnRecord:
        prompt = self._prompt(step)
        completion = await self._call(step, self._initial(step.party), prompt)
        party, speaker = self._party(step.party), self._speaker(step.party)
        others = [n for p in self.game.parties for n in {p.name, *p.speakers} if n != speaker]
        parsed = parse_output(completion.text, self.game.issues, others)
        own = score(parsed.deal, party) if parsed.deal else None
        turn = make_turn(step.index, party.name, step.phase, prompt, completion, parsed, own)
        if party.count > 1:
            turn.speaker = speaker
        return turn

    async def _helper(self, step: Step) -> TurnRecord:
        if step.phase == "summary":
            previous = self._summaries()[-1] if self._summaries() else ""
            since = self.log.summary_every if previous else len(self._public())
            system, prompt = self.prompts.summarizer(previous, self._public()[-since:])
        else:
            previous = self._public()[-1].speaker if self._public() else self.log.proposer
            names = list(self.game.scoring.speakers)
            system, prompt = self.prompts.moderator(self._history(), previous,
                                                    [n for n in names if n != previous])
        completion = await self._call(step, system, prompt)
        text = completion.text.strip()
        if step.phase == "moderator":
            names = list(self.game.scoring.speakers)
            chosen = pick_named(text, names, previous)
            text = chosen or successor(names, previous)
            self.log.order.append(text)
            issues = () if chosen else ("moderator named no party: fallback to the next in order",)
            return make_turn(step.index, MODERATOR, "moderator", prompt, completion, None, None,
                             public=text, issues=issues)
        return make_turn(step.index, SUMMARIZER, "summary", prompt, completion, None, None,
                         public=text, issues=() if text else ("empty summary",))

    async def _votes(self) -> None:
        final = next(t for t in self.log.turns if t.phase == "final")
        voted = {t.party for t in self.log.turns if t.phase == "vote"}
        pending = [p.name for p in self.log.parties
                   if p.name != self.log.proposer and p.name not in voted]
        first = len(self.log.turns)
        steps = [Step(first + i, "vote", name) for i, name in enumerate(pending)]
        if final.deal is None:
            for step in steps:
                await self._append(skipped_vote(step.index, step.party))
            return
        deal = parse_deal(final.deal, self.game.issues)
        prompts = [self.prompts.vote(self._party(s.party), str(deal),
                                     score(deal, self._party(s.party))) for s in steps]
        results = await asyncio.gather(*(self._call(s, self._initial(s.party), p)
                                         for s, p in zip(steps, prompts)))
        for step, prompt, completion in zip(steps, prompts, results):
            own = score(deal, self._party(step.party))
            await self._append(make_turn(step.index, step.party, "vote", prompt, completion,
                                   parse_vote(completion.text), own))

    async def _append(self, turn: TurnRecord) -> None:
        self.log.turns.append(turn)
        await self._save()
        if self.on_turn is not None:
            self.on_turn(self.log, turn, total_steps(self.log))

    async def _save(self) -> None:
        """Serialise on the loop, write (temp file, fsync, rename) in a worker thread so that
        other sessions keep running meanwhile."""
        self.log.updated_at = now_iso()
        text = self.log.model_dump_json(indent=1) + "\n"
        await asyncio.to_thread(write_atomic, self.path, text)
