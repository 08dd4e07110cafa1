"""The round engine: runs one session step by step, recording every turn as it completes.

A session is a sequence of steps: p1's opening, the discussion turns, p1's final proposal, then
the votes; optionally a summarizer writes a running summary every K discussion turns and a
moderator picks each next speaker. The next step is always derived from the turns already
logged (and the stored speaking order; ``progress.SessionView``), so a resumed session
continues exactly where it stopped. For each step the engine builds the acting seat's
``Observation`` from the log, awaits its ``SeatReply`` and appends the turn; it never sees
prompts or model text.
"""

from __future__ import annotations

import asyncio
import hashlib
import traceback
from collections.abc import Callable, Mapping

from negotiation.core.game import Game, Party
from negotiation.core.phases import Phase
from negotiation.core.rules import required_supporters, score
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.logs.writer import LogSink
from negotiation.protocol.outcome import conclude
from negotiation.protocol.progress import SessionView, Step, total_steps
from negotiation.protocol.seats import Observation, Seat, SeatReply
from negotiation.protocol.speakers import successor
from negotiation.protocol.turn_records import skipped_vote, turn_record

MODERATOR_FALLBACK = "moderator named no party: fallback to the next in order"


TurnCallback = Callable[[SessionLog, TurnRecord, int], None]


def derive_seed(seed: int, index: int) -> int:
    """A per-call seed derived from the session seed and the step index."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class SessionRunner:
    """Runs (or resumes) one session of ``game``: one seat per party (and per helper)."""

    def __init__(self, game: Game, seats: Mapping[str, Seat], log: SessionLog, sink: LogSink,
                 on_turn: TurnCallback | None = None) -> None:
        self.game = game
        self.seats = seats
        self.log = log
        self.sink = sink
        self.on_turn = on_turn
        self.view = SessionView(log)

    async def run(self) -> SessionLog:
        """Run the remaining steps; any error marks the session failed (then re-raised)."""
        try:
            await self.sink.begin(self.log)
            while (step := self.view.next_step()) is not None:
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

    def _observation(self, step: Step, **extra: object) -> Observation:
        scoring, view = self.game.scoring, self.view
        party, speaker = None, step.party
        if step.phase.is_party:
            party, speaker = self._party(step.party), self._speaker(step.party)
            extra.setdefault("plan", view.plans.get(speaker, ""))
        return Observation(
            phase=step.phase, index=step.index, seed=derive_seed(self.log.seed, step.index),
            speaker=speaker, party=party, issues=scoring.issues,
            parties=tuple(p.name for p in scoring.parties), speakers=scoring.speakers,
            proposer=scoring.proposer.name, vetoes=tuple(v.name for v in scoring.vetoes),
            required=required_supporters(scoring), history=view.window(),
            summaries=tuple(view.summaries),
            final_turn=step.final_turn, **extra)  # type: ignore[arg-type]

    def _helper_context(self, step: Step) -> dict[str, object]:
        public, summaries = self.view.public, self.view.summaries
        if step.phase is Phase.SUMMARY:
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
                 for i, name in enumerate(self.view.pending_voters())]
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
