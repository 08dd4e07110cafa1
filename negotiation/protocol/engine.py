"""The round engine: runs one session step by step, recording every turn as it completes.

A session is a sequence of steps: p1's opening, the discussion turns, p1's final proposal, then
the votes; optionally a summarizer writes a running summary every K discussion turns and a
moderator picks each next speaker. The next step is always derived from the turns already
logged (and the stored speaking order), so a resumed session continues exactly where it stopped.
For each step the engine builds the acting seat's ``Observation`` from the log, awaits its
``SeatReply`` and appends the turn; it never sees prompts or model text.
"""

from __future__ import annotations

import asyncio
import hashlib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from negotiation.core.game import Game, Party
from negotiation.core.phases import HelperRole, Phase
from negotiation.core.rules import required_supporters, score
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.logs.writer import LogSink
from negotiation.protocol.outcome import conclude
from negotiation.protocol.seats import Observation, PublicMessage, Seat, SeatReply
from negotiation.protocol.speakers import successor
from negotiation.protocol.turn_records import skipped_vote, turn_record

SUMMARIZER, MODERATOR = HelperRole.SUMMARIZER.seat, HelperRole.MODERATOR.seat
MODERATOR_FALLBACK = "moderator named no party: fallback to the next in order"


@dataclass(frozen=True)
class Step:
    """One turn of the session: its index, phase and who acts (speaker or helper seat)."""

    index: int
    phase: Phase
    party: str
    final_turn: bool = False


TurnCallback = Callable[[SessionLog, TurnRecord, int], None]


def derive_seed(seed: int, index: int) -> int:
    """A per-call seed derived from the session seed and the step index."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def total_steps(log: SessionLog) -> int:
    """How many turns a complete session of this log has."""
    extra = log.rounds // log.summary_every if log.summarizes else 0
    moderator = log.rounds if log.moderated else 0
    votes = len(log.parties) - 1 if log.vote else 0
    return 1 + log.rounds + 1 + votes + extra + moderator


def plan_steps(log: SessionLog) -> list[Step]:
    """All steps of a session with a static speaking order (not for the moderator policy)."""
    if log.moderated:
        raise ValueError("the moderator policy decides the order turn by turn")
    steps = [Step(0, Phase.OPENING, log.proposer)]
    every = log.summary_every if log.summarizes else 0
    for i, name in enumerate(log.order):
        steps.append(Step(len(steps), Phase.ROUND, name, name not in log.order[i + 1:]))
        if every and (i + 1) % every == 0:
            steps.append(Step(len(steps), Phase.SUMMARY, SUMMARIZER))
    steps.append(Step(len(steps), Phase.FINAL, log.proposer))
    if log.vote:
        steps += [Step(len(steps) + i, Phase.VOTE, p.name) for i, p in
                  enumerate(q for q in log.parties if q.name != log.proposer)]
    return steps


def pending_voters(log: SessionLog) -> list[str]:
    """Parties (other than the proposer) whose vote is not logged yet."""
    voted = {t.party for t in log.turns if t.phase is Phase.VOTE}
    return [p.name for p in log.parties if p.name != log.proposer and p.name not in voted]


def next_step(log: SessionLog) -> Step | None:
    """The step after the logged turns; None when the session is over."""
    turns, index = log.turns, len(log.turns)
    rounds_done = sum(1 for t in turns if t.phase is Phase.ROUND)
    if not turns:
        return Step(0, Phase.OPENING, log.proposer)
    if (log.summarizes and turns[-1].phase is Phase.ROUND
            and rounds_done % log.summary_every == 0):
        return Step(index, Phase.SUMMARY, SUMMARIZER)
    if rounds_done < log.rounds:
        if len(log.order) <= rounds_done:
            return Step(index, Phase.MODERATOR, MODERATOR)
        speaker = log.order[rounds_done]
        is_last = not log.moderated and speaker not in log.order[rounds_done + 1:]
        return Step(index, Phase.ROUND, speaker, final_turn=is_last)
    if not any(t.phase is Phase.FINAL for t in turns):
        return Step(index, Phase.FINAL, log.proposer)
    waiting = pending_voters(log)
    return Step(index, Phase.VOTE, waiting[0]) if log.vote and waiting else None


def public_messages(log: SessionLog) -> list[PublicMessage]:
    """Every public message of the session so far, in order."""
    return [PublicMessage(t.index, t.speaker or t.party, t.party, t.public, t.deal)
            for t in log.turns if t.phase.is_public]


class SessionRunner:
    """Runs (or resumes) one session of ``game``: one seat per party (and per helper)."""

    def __init__(self, game: Game, seats: Mapping[str, Seat], log: SessionLog, sink: LogSink,
                 on_turn: TurnCallback | None = None) -> None:
        self.game = game
        self.seats = seats
        self.log = log
        self.sink = sink
        self.on_turn = on_turn

    async def run(self) -> SessionLog:
        """Run the remaining steps; any error marks the session failed (then re-raised)."""
        try:
            await self.sink.begin(self.log)
            while (step := next_step(self.log)) is not None:
                if step.phase is Phase.VOTE:
                    await self._votes()
                else:
                    await self._append(await self._turn(step))
            conclude(self.log, self.game.scoring)
            self.log.status = "complete"
            await self.sink.save(self.log)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # recorded, then re-raised: the log keeps the cause
            self.log.status = "failed"
            self.log.error = f"{type(err).__name__}: {err}"
            self.log.error_traceback = traceback.format_exc(limit=-12)
            await self.sink.save(self.log)
            raise
        return self.log

    def _party(self, name: str) -> Party:
        return self.game.scoring.party(name)

    def _seat(self, step: Step) -> Seat:
        """Helpers by seat name; parties by party name (a representative speaks for it)."""
        return self.seats[step.party if step.phase.is_helper else self._party(step.party).name]

    def _speaker(self, name: str) -> str:
        """The speaker behind a step name (a party with several representatives opens, closes
        and votes through its first one)."""
        party = self._party(name)
        return name if name in party.speakers else party.speakers[0]

    def _plan(self, speaker: str) -> str:
        plans = [t.plan for t in self.log.turns
                 if (t.speaker or t.party) == speaker and t.phase is not Phase.VOTE]
        return plans[-1] if plans else ""

    def _observation(self, step: Step, **extra: object) -> Observation:
        scoring, public = self.game.scoring, public_messages(self.log)
        window = tuple(public[-self.log.window:]) if self.log.window > 0 else ()
        summaries = tuple(t.public for t in self.log.turns if t.phase is Phase.SUMMARY)
        party, speaker = None, step.party
        if step.phase.is_party:
            party, speaker = self._party(step.party), self._speaker(step.party)
            extra.setdefault("plan", self._plan(speaker))
        return Observation(
            phase=step.phase, index=step.index, seed=derive_seed(self.log.seed, step.index),
            speaker=speaker, party=party, issues=scoring.issues,
            parties=tuple(p.name for p in scoring.parties), speakers=scoring.speakers,
            proposer=scoring.proposer.name, vetoes=tuple(v.name for v in scoring.vetoes),
            required=required_supporters(scoring), history=window, summaries=summaries,
            final_turn=step.final_turn, **extra)  # type: ignore[arg-type]

    def _helper_context(self, step: Step) -> dict[str, object]:
        public = public_messages(self.log)
        if step.phase is Phase.SUMMARY:
            summaries = [t.public for t in self.log.turns if t.phase is Phase.SUMMARY]
            since = self.log.summary_every if summaries and summaries[-1] else len(public)
            return {"new_messages": tuple(public[-since:])}
        previous = public[-1].speaker if public else self.log.proposer
        return {"previous": previous,
                "candidates": tuple(n for n in self.game.scoring.speakers if n != previous)}

    async def _turn(self, step: Step) -> TurnRecord:
        extra = self._helper_context(step) if step.phase.is_helper else {}
        if step.phase is Phase.OPENING:
            extra["deal"] = self.game.initial_deal
        obs = self._observation(step, **extra)
        reply = await self._seat(step).act(obs)
        if step.phase.is_helper:
            return self._helper_turn(step, obs, reply)
        party = self._party(step.party)
        deal = reply.action.deal
        speaker = obs.speaker if party.count > 1 else None
        return turn_record(step.index, party.name, step.phase, reply,
                           score(deal, party) if deal else None, speaker)

    def _helper_turn(self, step: Step, obs: Observation, reply: SeatReply) -> TurnRecord:
        text, issues = reply.action.public.strip(), list(reply.parse.issues)
        if step.phase is Phase.MODERATOR:
            if text not in obs.candidates:
                text = successor(list(obs.speakers), obs.previous)
                issues.append(MODERATOR_FALLBACK)
            self.log.order.append(text)
        elif not text:
            issues.append("empty summary")
        return turn_record(step.index, step.party, step.phase, reply, None, None,
                           public=text, issues=tuple(issues))

    async def _votes(self) -> None:
        deal = next(t for t in self.log.turns if t.phase is Phase.FINAL).deal
        steps = [Step(len(self.log.turns) + i, Phase.VOTE, name)
                 for i, name in enumerate(pending_voters(self.log))]
        if deal is None:
            for step in steps:
                await self._append(skipped_vote(step.index, step.party))
            return
        observations = [self._observation(s, deal=deal, own_score=score(deal, self._party(s.party)))
                        for s in steps]
        replies = await asyncio.gather(*(self._seat(s).act(o)
                                         for s, o in zip(steps, observations)))
        for step, obs, reply in zip(steps, observations, replies):
            await self._append(turn_record(step.index, step.party, Phase.VOTE, reply,
                                           obs.own_score, None))

    async def _append(self, turn: TurnRecord) -> None:
        self.log.turns.append(turn)
        await self.sink.turn(self.log, turn)
        if self.on_turn is not None:
            self.on_turn(self.log, turn, total_steps(self.log))
