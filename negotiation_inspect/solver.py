"""The solver that plays one session per sample with the harness's own engine.

inspect drives the model calls; the rules, prompts, engine and parsing are the harness's
(``SessionRunner`` with the seats of ``seating.py``). What a sample keeps:

* the transcript: one span per turn (``turn N: SPEAKER (phase)``, type ``turn``) holding the
  model call inspect made (for seats on inspect models) and an info event with what the seat
  said, its deal or vote and the parser's report;
* the store: ``negotiation/turns`` (every turn record, as in the session log) and
  ``negotiation/session`` (id, seed, status);
* the messages: the public discussion, one assistant message per turn, for the viewer;
* the metadata: the native session log under ``evaluation.inspect_logs.LOG_METADATA_KEY``,
  which ``main.py evaluate``/``report`` read from the ``.eval`` file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai.log import transcript
from inspect_ai.model import ChatMessageAssistant, ModelOutput
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import span, store

from evaluation.inspect_logs import LOG_METADATA_KEY
from negotiation.agents.registry import SeatResources
from negotiation.core.game import Game
from negotiation.core.phases import HELPER_PREFIX, Phase, is_helper_seat
from negotiation.logs.journal import JournalSink
from negotiation.logs.reading import LogReadError, existing_log
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.protocol.engine import SessionRunner
from negotiation.protocol.seats import Observation, Seat, SeatReply
from negotiation.runs.setup import worker_name
from negotiation_inspect.backend import SEAT, SeatContext
from negotiation_inspect.naming import in_package
from negotiation_inspect.options import TaskError, TaskOptions, native_generation
from negotiation_inspect.seating import (
    SeatChoice,
    build_seats,
    check_roles,
    choose_seats,
    default_model,
    given_roles,
    session_log,
)

TURNS_KEY = "negotiation/turns"
SESSION_KEY = "negotiation/session"
SPAN_TYPE = "turn"


def span_name(index: int, speaker: str, phase: Phase) -> str:
    """The span of one turn: its index, who acted and the phase."""
    return f"turn {index}: {speaker} ({phase.value})"


def _reply_text(obs: Observation, reply: SeatReply) -> str:
    action, parse, stats = reply.action, reply.parse, reply.stats
    lines = [f"{obs.speaker} · {obs.phase.value} · turn {obs.index}", ""]
    lines += (action.public or "(nothing public)").splitlines()
    if action.deal is not None:
        lines += ["", f"deal: {action.deal}"]
    if action.vote is not None:
        lines += ["", f"vote: {action.vote}"]
    status = "followed the format" if parse.format_ok else "format: " + ", ".join(
        [*parse.repairs, *parse.issues] or ["not followed"])
    lines += ["", f"{status}; tokens {stats.input_tokens} in, {stats.output_tokens} out"]
    return "\n".join(lines)


class TurnSpans:
    """Wraps each seat: every turn runs inside its own transcript span, with the seat
    context set (``backend.SEAT``) so this package's providers know who they play."""

    def __init__(self, game: Game, session_id: str) -> None:
        self.game = game
        self.session_id = session_id
        self.spanned: set[int] = set()

    def wrap(self, seat: Seat) -> Seat:
        """The seat, acting inside a span."""
        return _SpannedSeat(seat, self)


class _SpannedSeat:
    def __init__(self, inner: Seat, table: TurnSpans) -> None:
        self.inner = inner
        self.table = table

    async def act(self, obs: Observation) -> SeatReply:
        async with span(span_name(obs.index, obs.speaker, obs.phase), type=SPAN_TYPE):
            token = SEAT.set(SeatContext(self.table.game, self.table.session_id, obs))
            try:
                reply = await self.inner.act(obs)
            finally:
                SEAT.reset(token)
            transcript().info(_reply_text(obs, reply), source="negotiation")
            self.table.spanned.add(obs.index)
        return reply

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


class SampleSink:
    """The engine's log sink inside a sample: store, messages, metadata (and, optionally, a
    native journal)."""

    def __init__(self, state: TaskState, spans: TurnSpans, mirror: JournalSink | None) -> None:
        self.state = state
        self.spans = spans
        self.mirror = mirror

    def _session(self, log: SessionLog) -> None:
        store().set(SESSION_KEY, {"session_id": log.session_id, "session_index":
                                  log.session_index, "seed": log.seed, "status": log.status,
                                  "turns": len(log.turns), "error": log.error})

    async def begin(self, log: SessionLog) -> None:
        """The session starts (or resumes: the turns so far into the store and messages)."""
        store().set(TURNS_KEY, [t.model_dump(mode="json") for t in log.turns])
        for turn in log.turns:
            self.state.messages.append(ChatMessageAssistant(
                content=_message(turn), model=_seat_model(log, turn.party), source="generate"))
            self.spans.spanned.add(turn.index)
        self._session(log)
        if self.mirror is not None:
            await self.mirror.begin(log)

    async def turn(self, log: SessionLog, turn: TurnRecord) -> None:
        """One turn: its record into the store, its public message into the messages (a turn
        no seat acted on, a vote skipped for want of a final deal, gets its span here)."""
        if turn.index not in self.spans.spanned:
            speaker = turn.speaker or turn.party
            async with span(span_name(turn.index, speaker, turn.phase), type=SPAN_TYPE):
                transcript().info(f"{speaker} · {turn.phase.value} · turn {turn.index}\n\n"
                                  f"{', '.join(turn.parse_issues) or 'no call'}",
                                  source="negotiation")
            self.spans.spanned.add(turn.index)
        turns = list(store().get(TURNS_KEY, []))
        turns.append(turn.model_dump(mode="json"))
        store().set(TURNS_KEY, turns)
        self._session(log)
        self.state.messages.append(ChatMessageAssistant(
            content=_message(turn), model=_seat_model(log, turn.party), source="generate"))
        if self.mirror is not None:
            await self.mirror.turn(log, turn)

    async def save(self, log: SessionLog) -> None:
        """The session ended: the native log into the sample's metadata."""
        self.state.metadata[LOG_METADATA_KEY] = log.model_dump(mode="json")
        self._session(log)
        if self.mirror is not None:
            await self.mirror.save(log)


def _seat_model(log: SessionLog, name: str) -> str | None:
    if is_helper_seat(name):
        return log.helpers.get(name.removeprefix(HELPER_PREFIX))
    return next((p.model for p in log.parties if p.name == name), None)


def _message(turn: TurnRecord) -> str:
    who = turn.speaker or turn.party
    if turn.phase is Phase.VOTE:
        body = (turn.vote or "no vote") + (f": {turn.public}" if turn.public else "")
    else:
        body = turn.public or "(nothing public)"
        if turn.deal is not None:
            body += f"\n\ndeal: {turn.deal}"
    return f"{who} ({turn.phase.value}): {body}"


def outcome_text(log: SessionLog) -> str:
    """One line for the sample's output: the final deal and whether it passes."""
    if log.status != "complete":
        return f"session {log.status}: {log.error or ''}".strip()
    outcome = log.threshold_outcome
    deal = str(log.final_deal) if log.final_deal else "none"
    verdict = "no final deal" if outcome is None or outcome.deal is None else (
        f"{'passes' if outcome.passes else 'fails'} ({len(outcome.accepting)} of "
        f"{len(log.parties)} accept{', unanimous' if outcome.unanimous else ''})")
    return f"final deal {deal}: {verdict}"


@dataclass(frozen=True)
class SessionPlan:
    """What every sample of a task shares: the game, options and run name."""

    task: str
    game: Game
    options: TaskOptions
    run_name: str

    def choices(self) -> Mapping[str, SeatChoice]:
        """The seats' models for the running eval (roles checked against the game)."""
        roles = given_roles()
        check_roles(self.game, roles, self.task)
        return choose_seats(self.game, self.options, roles, default_model())

    def precheck(self) -> None:
        """Everything a sample would refuse, checked once before the eval writes a log:
        roles, models, settings (the log of session 0 is built and dropped)."""
        session_log(self.game, self.options, self.choices(), native_generation(),
                    self.run_name, 0)

    def session_index(self, state: TaskState) -> int:
        """The session a sample plays: its index, shifted by ``sessions`` per extra epoch."""
        return int(state.metadata["session_index"]) + (state.epoch - 1) * self.options.sessions


@solver
@in_package
def play_session(plan: SessionPlan) -> Solver:
    """Play the sample's session to its end (a failure fails the sample, with its log)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        choices = plan.choices()
        index = plan.session_index(state)
        log = session_log(plan.game, plan.options, choices, native_generation(),
                          plan.run_name, index)
        state.metadata.update(session_id=log.session_id, session_index=index, seed=log.seed,
                              seats={k: {"model": str(c.spec), "source": c.source,
                                         "native_seat": c.model is None}
                                     for k, c in choices.items()})
        spans = TurnSpans(plan.game, log.session_id)
        mirror = None
        if plan.options.log_dir is not None:
            path = Path(plan.options.log_dir) / plan.run_name / f"session-{log.session_id}.json"
            log = _resume(log, path)
            mirror = JournalSink(path)
        log.status, log.error, log.worker = "running", None, worker_name()
        resources = SeatResources()
        try:
            seats = build_seats(plan.game, log, choices, resources)
            runner = SessionRunner(plan.game, {k: spans.wrap(v) for k, v in seats.items()},
                                   log, SampleSink(state, spans, mirror))
            log = await runner.run()
        finally:
            state.metadata[LOG_METADATA_KEY] = log.model_dump(mode="json")
            await resources.aclose()
        state.output = ModelOutput.from_content(model="negotiation", content=outcome_text(log))
        state.completed = True
        return state

    return solve


def _resume(log: SessionLog, path: Path) -> SessionLog:
    """The session's log under ``-T log_dir`` if a previous attempt left one (it continues
    after its last completed turn, as ``main.py --resume`` does), else ``log``."""
    try:
        previous = existing_log(path)
    except LogReadError as err:
        raise TaskError(f"error: {err}") from None
    if previous is None:
        return log
    if previous.session_id != log.session_id:
        raise TaskError(f"error: {path} holds session {previous.session_id}, not "
                        f"{log.session_id}")
    transcript().info(f"resumed from {path} after {len(previous.turns)} completed turns "
                      "(their records are in the store and the log, not in this transcript)",
                      source="negotiation")
    previous.status, previous.error = "running", None
    return previous


def sample_metadata(index: int, plan: SessionPlan) -> dict[str, Any]:
    """What a sample starts with (the solver adds the session id, seats and the log)."""
    return {"session_index": index, "game": plan.game.name, "run_name": plan.run_name,
            "options": plan.options.record()}
