"""Where a session stands: the next step, the public messages, plans and summaries so far.

Everything the engine derives from the logged turns lives here, in one place. ``SessionView``
folds the turns once and then takes each new turn as it is appended, so a turn costs the same
at turn 800 as at turn 8 (recomputing from the whole log every turn made a session quadratic in
its length). ``next_step(log)`` is the same answer for a log read from disk: a resumed session
continues exactly where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from negotiation.core.phases import HelperRole, Phase
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.protocol.seats import PublicMessage

SUMMARIZER, MODERATOR = HelperRole.SUMMARIZER.seat, HelperRole.MODERATOR.seat


@dataclass(frozen=True)
class Step:
    """One turn of the session: its index, phase and who acts (speaker or helper seat)."""

    index: int
    phase: Phase
    party: str
    final_turn: bool = False


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


class SessionView:
    """The state of one session derived from its turns, kept current turn by turn."""

    def __init__(self, log: SessionLog) -> None:
        self.log = log
        self.public: list[PublicMessage] = []
        """Every public message so far, in order."""
        self.summaries: list[str] = []
        """The summarizer's summaries so far, oldest first."""
        self.plans: dict[str, str] = {}
        """Speaker -> the plan of its last discussion turn."""
        self.rounds_done = 0
        self.has_final = False
        self.voted: set[str] = set()
        self._seen = 0
        self._last_round = {name: i for i, name in enumerate(log.order)}
        """Speaker -> the index of its last discussion turn (a static order only)."""
        self.catch_up()

    def catch_up(self) -> None:
        """Take in the turns appended to the log since the last call."""
        for turn in self.log.turns[self._seen:]:
            self._take(turn)
        self._seen = len(self.log.turns)

    def _take(self, turn: TurnRecord) -> None:
        phase = turn.phase
        if phase.is_public:
            self.public.append(PublicMessage(turn.index, turn.speaker or turn.party, turn.party,
                                             turn.public, turn.deal))
        if phase is Phase.SUMMARY:
            self.summaries.append(turn.public)
        elif phase is Phase.ROUND:
            self.rounds_done += 1
        elif phase is Phase.FINAL:
            self.has_final = True
        elif phase is Phase.VOTE:
            self.voted.add(turn.party)
        if phase.is_party and phase is not Phase.VOTE:
            self.plans[turn.speaker or turn.party] = turn.plan

    def window(self) -> tuple[PublicMessage, ...]:
        """The public messages a party sees: the last ``window`` of them (none for 0)."""
        size = self.log.window
        return tuple(self.public[-size:]) if size > 0 else ()

    def pending_voters(self) -> list[str]:
        """Parties (other than the proposer) whose vote is not logged yet."""
        log = self.log
        return [p.name for p in log.parties
                if p.name != log.proposer and p.name not in self.voted]

    def next_step(self) -> Step | None:
        """The step after the logged turns; None when the session is over."""
        self.catch_up()
        log, index = self.log, self._seen
        if not index:
            return Step(0, Phase.OPENING, log.proposer)
        last = log.turns[-1].phase
        if log.summarizes and last is Phase.ROUND and self.rounds_done % log.summary_every == 0:
            return Step(index, Phase.SUMMARY, SUMMARIZER)
        if self.rounds_done < log.rounds:
            if len(log.order) <= self.rounds_done:
                return Step(index, Phase.MODERATOR, MODERATOR)
            speaker = log.order[self.rounds_done]
            is_last = not log.moderated and self._last_round[speaker] == self.rounds_done
            return Step(index, Phase.ROUND, speaker, final_turn=is_last)
        if not self.has_final:
            return Step(index, Phase.FINAL, log.proposer)
        waiting = self.pending_voters()
        return Step(index, Phase.VOTE, waiting[0]) if log.vote and waiting else None


def next_step(log: SessionLog) -> Step | None:
    """The step after the logged turns of ``log``; None when the session is over."""
    return SessionView(log).next_step()
