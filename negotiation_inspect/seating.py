"""Who plays each seat of a session inside inspect: model roles -> specs, logs and seats.

A party's model is the first of: the model role named after it, ``p1``/``p2`` for the veto
parties, the eval's default model (``--model``), the model column of ``config.txt``. A helper's
(``summarizer``, ``moderator``) is its role's, else the default model.

Each choice is recorded in the session log as a native model spec, so session ids, costs and
leaderboards work as for ``main.py`` runs: this package's providers as what they wrap
(``negotiation-scripted/rational`` -> ``scripted:rational``), ``openai/M`` as ``openai:M`` and
``google/M`` as ``gemini:M`` (the price table applies), any other inspect model as
``inspect:<provider>/<model>`` (a price table entry such as ``"inspect:anthropic/*"`` prices it).
A seat on one of this package's providers is the native seat itself unless ``native_seats`` is
off; every other seat is an ``LLMSeat`` over ``InspectBackend``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from negotiation.agents.llm import LLMSeat
from negotiation.agents.registry import SeatResources, make_seats, systems_of
from negotiation.agents.specs import legacy_to_spec, parse_spec
from negotiation.backends.base import GenerateConfig
from negotiation.backends.registry import ModelSpec
from negotiation.core.errors import ConfigError
from negotiation.core.game import Game
from negotiation.core.phases import (
    HELPER_PREFIX,
    MODERATOR_ORDER,
    SUMMARY_MEMORY,
    HelperRole,
    is_helper_seat,
)
from negotiation.logs.records import SessionLog
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.seats import Seat
from negotiation.runs.setup import RunSettings, new_log
from negotiation_inspect.backend import InspectBackend
from negotiation_inspect.options import TaskError, TaskOptions
from negotiation_inspect.providers import NATIVE_KINDS, native_spec
from negotiation.games.roles import role_names, roles_of_seat

INSPECT_KIND = "inspect"
"""Spec kind recorded for inspect models without a native equivalent."""
NATIVE_ONLY = ("scripted", "llamacpp", "hf")
"""Native kinds a ``config.txt`` model column may name inside inspect (as native seats)."""
INSPECT_PROVIDER_OF = {"openai": "openai", "gemini": "google",
                       **{kind: api for api, kind in NATIVE_KINDS.items()}}
"""Native spec kind -> the inspect provider that serves it."""
STAND_IN = "scripted:rational"
"""What ``new_log`` and ``make_seats`` are given for a seat they cannot build (an inspect
model): cheap, and free text (structured mode off) like every seat on an inspect model."""
OFF = "off"
RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunSettings))


@dataclass(frozen=True)
class SeatChoice:
    """The model of one seat: the spec recorded, the inspect model (None: a native seat) and
    what chose it."""

    seat: str
    spec: ModelSpec
    model: Any | None
    source: str
    """``role NAME``, ``--model`` or ``config.txt``."""
    role: str | None = None


def given_roles() -> dict[str, Any]:
    """The model roles of the running eval (a role bound to a list: its first model)."""
    from inspect_ai.model import model_roles

    return {k: (v[0] if isinstance(v, list) else v) for k, v in model_roles().items()}


def check_roles(game: Game, roles: Mapping[str, Any], task: str) -> None:
    """A ``TaskError`` for a role that names no seat of ``game``."""
    names = role_names(game)
    unknown = sorted(set(roles) - set(names))
    if unknown:
        raise TaskError(f"error: {task}: --model-role {unknown[0]!r} is not a role of "
                        f"{game.name} (roles: {', '.join(names)})")


def default_model() -> Any | None:
    """The eval's ``--model`` (None when it has none: inspect's ``none/none``)."""
    from inspect_ai.model import get_model

    try:
        model = get_model()
    except ValueError:
        return None
    return None if str(model).split("/", 1)[0] == "none" else model


def spec_of(model: Any) -> ModelSpec:
    """The native spec recorded for an inspect model."""
    api, _, name = str(model).partition("/")
    native = native_spec(api, name)
    if native is not None:
        return native
    base_url = getattr(model.api, "base_url", None) or None
    if api == "openai":
        return ModelSpec("openai", name, base_url)
    if api == "google" and base_url is None:
        return ModelSpec("gemini", name)
    return ModelSpec(INSPECT_KIND, f"{api}/{name}")


def _config_model(game: Game, party: str, native_seats: bool) -> tuple[ModelSpec, Any | None]:
    record = game.scoring.party(party)
    try:
        spec = parse_spec(legacy_to_spec(record.model))
    except ConfigError as err:
        raise TaskError(f"error: {err}") from None
    if spec.provider in NATIVE_ONLY and native_seats:
        return spec, None
    provider = INSPECT_PROVIDER_OF.get(spec.provider)
    if provider is None:
        raise TaskError(f"error: {party} is {spec} in {game.name}'s config.txt, which inspect "
                        f"cannot seat: give --model or --model-role")
    from inspect_ai.model import get_model

    return spec, get_model(f"{provider}/{spec.model}", base_url=spec.base_url)


def _choice(seat: str, model: Any, source: str, role: str | None,
            native_seats: bool) -> SeatChoice:
    spec = spec_of(model)
    api, _, name = str(model).partition("/")
    native = native_seats and native_spec(api, name) is not None
    return SeatChoice(seat, spec, None if native else model, source, role)


def helper_roles(options: TaskOptions) -> list[HelperRole]:
    """The helper seats a session with these options has."""
    out = []
    if options.memory == SUMMARY_MEMORY:
        out.append(HelperRole.SUMMARIZER)
    if options.order == MODERATOR_ORDER:
        out.append(HelperRole.MODERATOR)
    return out


def choose_seats(game: Game, options: TaskOptions, roles: Mapping[str, Any],
                 default: Any | None) -> dict[str, SeatChoice]:
    """Seat (party name or ``@helper``) -> its model, by the precedence above."""
    out: dict[str, SeatChoice] = {}
    seats = [p.name for p in game.scoring.parties] + [h.seat for h in helper_roles(options)]
    for seat in seats:
        role = next((r for r in roles_of_seat(game, seat) if r in roles), None)
        if role is not None:
            out[seat] = _choice(seat, roles[role], f"role {role}", role, options.native_seats)
        elif default is not None:
            out[seat] = _choice(seat, default, "--model", None, options.native_seats)
        elif is_helper_seat(seat):
            helper = seat.removeprefix(HELPER_PREFIX)
            raise TaskError(f"error: the {helper} needs a model: --model-role {helper}=MODEL "
                            "or --model MODEL")
        else:
            spec, model = _config_model(game, seat, options.native_seats)
            out[seat] = SeatChoice(seat, spec, model, "config.txt")
    return out


def _parses(spec: ModelSpec) -> bool:
    try:
        parse_spec(str(spec))
    except ConfigError:
        return False
    return True


def run_settings(options: TaskOptions, choices: Mapping[str, SeatChoice],
                 generation: GenerateConfig) -> RunSettings:
    """``main.py``'s settings for these options (helpers main.py cannot name: a stand-in)."""
    def helper(role: HelperRole) -> str | None:
        choice = choices.get(role.seat)
        if choice is None:
            return None
        return str(choice.spec) if _parses(choice.spec) else STAND_IN

    extra: dict[str, Any] = {}
    if options.structured is not None and "structured" in RUN_FIELDS:
        extra["structured"] = options.structured
    try:
        return RunSettings(rounds=options.rounds, window=options.window, vote=options.vote,
                           seed=options.seed, generation=generation, order=options.order,
                           memory=options.memory, summary_every=options.summary_every,
                           moderator_model=helper(HelperRole.MODERATOR),
                           summarizer_model=helper(HelperRole.SUMMARIZER), **extra)
    except ConfigError as err:
        raise TaskError(f"error: {err}") from None


def session_log(game: Game, options: TaskOptions, choices: Mapping[str, SeatChoice],
                generation: GenerateConfig, run_name: str, index: int) -> SessionLog:
    """The fresh log of session ``index``: ``new_log`` with the chosen specs, so seeds and
    (when every seat has a native spec) session ids equal those of ``main.py`` runs.

    A seat on an inspect model that ``main.py`` cannot name (``inspect:…``) enters ``new_log``
    as a stand-in and is then recorded as what it is; such a session's id hashes the native id
    with the real specs."""
    settings = run_settings(options, choices, generation)
    models = {p.name: choices[p.name].spec for p in game.scoring.parties}
    stand_ins = {k: v if _parses(v) else ModelSpec(*STAND_IN.split(":", 1))
                 for k, v in models.items()}
    try:
        log = new_log(game, stand_ins, settings, run_name, index)
    except ConfigError as err:
        raise TaskError(f"error: {err}") from None
    helpers = {h.value: str(choices[h.seat].spec) for h in helper_roles(options)}
    if stand_ins != models or helpers != log.helpers:
        for record in log.parties:
            record.model = str(models[record.name])
        log.helpers = helpers
        key = json.dumps({"native_id": log.session_id, "helpers": helpers,
                          "models": {k: str(v) for k, v in models.items()}}, sort_keys=True)
        log.session_id = hashlib.sha256(key.encode()).hexdigest()[:16]
    for record in log.parties:
        _check_free(choices[record.name], getattr(record, "structured", OFF))
    for role, mode in getattr(log, "helper_structured", {}).items():
        _check_free(choices[HelperRole(role).seat], mode)
    return log


def _check_free(choice: SeatChoice, mode: str) -> None:
    if choice.model is not None and mode != OFF:
        raise TaskError(f"error: {choice.seat} plays on the inspect model {choice.model}, "
                        f"which takes no structured decoding ({mode}) through this harness: "
                        "-T structured=off, or seat it on negotiation-llamacpp/negotiation-hf")


def build_seats(game: Game, log: SessionLog, choices: Mapping[str, SeatChoice],
                resources: SeatResources) -> dict[str, Seat]:
    """The seats of one session: the native seats as ``make_seats`` builds them from the log,
    the seats on inspect models as LLM seats over ``InspectBackend``."""
    shadow = log.model_copy(deep=True)
    for record in shadow.parties:
        if choices[record.name].model is not None:
            record.model = STAND_IN
    for role in shadow.helpers:
        if choices[HelperRole(role).seat].model is not None:
            shadow.helpers[role] = STAND_IN
    seats = make_seats(game, shadow, None, resources)
    prompts = PromptBuilder(game)
    generation = GenerateConfig(**log.parties[0].generation)
    for record in log.parties:
        choice = choices[record.name]
        if choice.model is not None:
            systems = systems_of(record, game.scoring.party(record.name).speakers)
            seats[record.name] = _inspect_seat(choice, prompts,
                                               GenerateConfig(**record.generation), systems,
                                               log.session_id)
    for role in log.helpers:
        choice = choices[HelperRole(role).seat]
        if choice.model is not None:
            seats[choice.seat] = _inspect_seat(choice, prompts, generation, {}, log.session_id)
    return seats


def _inspect_seat(choice: SeatChoice, prompts: PromptBuilder, generation: GenerateConfig,
                  systems: dict[str, str], session_id: str) -> Seat:
    return LLMSeat(InspectBackend(choice.model, str(choice.spec), choice.role), prompts,
                   generation, systems, session_id)
