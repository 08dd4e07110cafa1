"""The round engine: runs one session step by step, saving the log after every turn.

A session is a fixed list of steps (p1's opening, the discussion turns in the stored speaking
order, p1's final proposal, then the votes). Everything a step needs (history window, plans) is
rebuilt from the turns already logged, so a resumed session continues exactly where it stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from negotiation.backends.base import Backend, Completion, GenerateConfig, Message
from negotiation.game import Deal, Game, Party
from negotiation.parsing import ParsedOutput, parse_output, parse_vote
from negotiation.prompting import HistoryEntry, PromptBuilder
from negotiation.records import DealOutcome, SessionLog, TurnRecord, save_log
from negotiation.rules import agreement, parse_deal, passes_with, payoff, score
from negotiation.timeutil import now_iso


@dataclass(frozen=True)
class Step:
    """One model call of the session."""

    index: int
    phase: str
    party: str
    final_turn: bool = False


TurnCallback = Callable[[SessionLog, TurnRecord, int], None]


def plan_steps(log: SessionLog) -> list[Step]:
    """The full step list of a session, derived from its stored order."""
    steps = [Step(0, "opening", log.proposer)]
    last_turn = {name: i for i, name in enumerate(log.order)}
    for i, name in enumerate(log.order):
        steps.append(Step(len(steps), "round", name, final_turn=last_turn[name] == i))
    steps.append(Step(len(steps), "final", log.proposer))
    if log.vote:
        for party in log.parties:
            if party.name != log.proposer:
                steps.append(Step(len(steps), "vote", party.name))
    return steps


def derive_seed(seed: int, index: int) -> int:
    """A per-call seed derived from the session seed and the step index."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class SessionRunner:
    """Runs (or resumes) one session of ``game`` with one backend per party."""

    def __init__(self, game: Game, backends: Mapping[str, Backend], log: SessionLog,
                 path: Path, on_turn: TurnCallback | None = None) -> None:
        self.game = game
        self.backends = backends
        self.log = log
        self.path = path
        self.on_turn = on_turn
        self.prompts = PromptBuilder(game)
        self.steps = plan_steps(log)

    def _party(self, name: str) -> Party:
        return self.game.scoring.party(name)

    async def run(self) -> SessionLog:
        """Run the remaining steps; a provider failure marks the session failed."""
        try:
            while len(self.log.turns) < len(self.steps):
                step = self.steps[len(self.log.turns)]
                if step.phase == "vote":
                    await self._votes()
                else:
                    self._append(await self._speak(step))
            self._conclude()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # recorded, then re-raised: the log keeps the cause
            self.log.status = "failed"
            self.log.error = f"{type(err).__name__}: {err}"
            self._save()
            raise
        return self.log

    def _history(self) -> list[HistoryEntry]:
        public = [HistoryEntry(t.party, t.public) for t in self.log.turns
                  if t.phase in ("opening", "round")]
        return public[-self.log.window:] if self.log.window > 0 else []

    def _plan(self, name: str) -> str:
        plans = [t.plan for t in self.log.turns if t.party == name and t.phase != "vote"]
        return plans[-1] if plans else ""

    def _prompt(self, step: Step) -> str:
        party = self._party(step.party)
        if step.phase == "opening":
            return self.prompts.opening(party)
        if step.phase == "final":
            return self.prompts.final(party, self._history(), self._plan(step.party))
        return self.prompts.round(party, self._history(), self._plan(step.party), step.final_turn)

    async def _call(self, step: Step, prompt: str) -> Completion:
        record = next(p for p in self.log.parties if p.name == step.party)
        messages = [Message("system", record.initial_prompt), Message("user", prompt)]
        config = GenerateConfig(**{**record.generation,
                                   "seed": derive_seed(self.log.seed, step.index),
                                   "cache_key": f"{self.log.session_id}:{step.party}"})
        return await self.backends[step.party].generate(messages, config)

    async def _speak(self, step: Step) -> TurnRecord:
        prompt = self._prompt(step)
        completion = await self._call(step, prompt)
        others = [p.name for p in self.game.parties if p.name != step.party]
        parsed = parse_output(completion.text, self.game.issues, others)
        own = score(parsed.deal, self._party(step.party)) if parsed.deal else None
        return _turn(step, prompt, completion, parsed, own)

    async def _votes(self) -> None:
        deal = self._final_deal()
        pending = self.steps[len(self.log.turns):]
        if deal is None:
            for step in pending:
                parsed = parse_vote("")
                parsed = dataclasses.replace(parsed, issues=("no final deal to vote on",))
                self._append(_turn(step, "", Completion(text="", finish_reason="skipped"),
                                   parsed, None))
            return
        prompts = [self.prompts.vote(self._party(s.party), str(deal),
                                     score(deal, self._party(s.party))) for s in pending]
        results = await asyncio.gather(*(self._call(s, p) for s, p in zip(pending, prompts)))
        for step, prompt, completion in zip(pending, prompts, results):
            own = score(deal, self._party(step.party))
            self._append(_turn(step, prompt, completion, parse_vote(completion.text), own))

    def _final_deal(self) -> Deal | None:
        final = next((t for t in self.log.turns if t.phase == "final"), None)
        if final is None or final.deal is None:
            return None
        return parse_deal(final.deal, self.game.issues)

    def _conclude(self) -> None:
        scoring = self.game.scoring
        deal = self._final_deal()
        self.log.final_deal = str(deal) if deal else None
        if deal is None:
            self.log.threshold_outcome = DealOutcome(deal=None, accepting=[], passes=False,
                                                     unanimous=False)
        else:
            verdict = agreement(deal, scoring)
            self.log.threshold_outcome = DealOutcome(deal=str(deal), accepting=list(verdict.accepting),
                                                     passes=verdict.passes, unanimous=verdict.unanimous)
            self.log.final_scores = {p.name: payoff(deal, p, scoring) for p in scoring.parties}
        if self.log.vote:
            self.log.vote_outcome = self._vote_outcome(deal)
            self.log.outcomes_differ = self.log.vote_outcome.passes != self.log.threshold_outcome.passes
        self.log.status = "complete"
        self._save()

    def _vote_outcome(self, deal: Deal | None) -> DealOutcome:
        accepting = [self.log.proposer] if deal is not None else []
        accepting += [t.party for t in self.log.turns if t.phase == "vote" and t.vote == "ACCEPT"]
        passes, unanimous = passes_with(set(accepting), self.game.scoring)
        return DealOutcome(deal=str(deal) if deal else None, accepting=accepting,
                           passes=passes and deal is not None, unanimous=unanimous and deal is not None)

    def _append(self, turn: TurnRecord) -> None:
        self.log.turns.append(turn)
        self._save()
        if self.on_turn is not None:
            self.on_turn(self.log, turn, len(self.steps))

    def _save(self) -> None:
        self.log.updated_at = now_iso()
        save_log(self.log, self.path)


def _turn(step: Step, prompt: str, completion: Completion, parsed: ParsedOutput,
          own: int | None) -> TurnRecord:
    return TurnRecord(
        index=step.index, party=step.party, phase=step.phase, prompt=prompt,  # type: ignore[arg-type]
        raw_output=completion.text, public=parsed.public, scratchpad=parsed.scratchpad,
        plan=parsed.plan, deal=str(parsed.deal) if parsed.deal else None,
        deal_source=parsed.deal_source, vote=parsed.vote, found=list(parsed.found),
        repairs=list(parsed.repairs), parse_issues=list(parsed.issues),
        format_ok=parsed.format_ok, own_score=own, input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens, latency_s=round(completion.latency_s, 4),
        finish_reason=completion.finish_reason, model_id=completion.model_id,
        retries=completion.retries, extra=dict(completion.extra))
