"""The inspect_ai tasks: one per shipped game (``negotiation/base`` …) and ``negotiation/game``
for any game folder (``-T game=PATH_OR_NAME``).

Each task has one sample per session (``-T sessions=N``; sample id = session index); a sample
plays its whole session with the harness's engine (``solver.play_session``) and is scored by the
session's metrics (``scorer.session_metrics``). Options are ``main.py``'s (``options.py``); bad
input (an unknown option, a game that fails ``check``, a model role that names no seat) stops
the eval before it writes a log, with one line naming what is wrong.

``tests/test_inspect.py`` checks that every folder of ``games_descriptions/`` has its task here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.viewer import ViewerConfig

from negotiation.core.errors import ConfigError, GameFormatError, TemplateError
from negotiation.core.files import UnsafeFileError
from negotiation.games.check import validate
from negotiation.games.loader import load_game, resolve_game_path
from negotiation.logs.clock import stamp
from negotiation_inspect.naming import PACKAGE, in_package
from negotiation_inspect.options import TaskError, parse_options
from negotiation.games.roles import role_names
from negotiation_inspect.scorer import party_roles, session_metrics
from negotiation_inspect.solver import SessionPlan, play_session, sample_metadata

GAME_ERRORS = (GameFormatError, TemplateError, ConfigError, UnsafeFileError, OSError)


def _in_eval() -> bool:
    """Whether the task is being created by a running eval (roles and --model are known)."""
    from inspect_ai.model._model import active_model

    return active_model() is not None


def negotiation_task(task_name: str, game: str, options: Mapping[str, Any]) -> Task:
    """The task playing ``game`` (a shipped game's name or a folder) with ``options``."""
    opts = parse_options(task_name, options)
    try:
        path = resolve_game_path(game)
        loaded = load_game(path, opts.incentives or None)
        validate(loaded)
    except TaskError:
        raise
    except GAME_ERRORS as err:
        raise TaskError(f"error: {task_name}: {err}") from None
    run_name = opts.name or f"{loaded.name}-inspect-{stamp()}"
    plan = SessionPlan(task_name, loaded, opts, run_name)
    if _in_eval():
        plan.precheck()  # unknown roles, unseatable models, bad settings: before any log
    samples = [Sample(id=i, input=_describe(plan, i), metadata=sample_metadata(i, plan))
               for i in range(opts.sessions)]
    return Task(dataset=MemoryDataset(samples, name=loaded.name),
                solver=play_session(plan), scorer=session_metrics(party_roles(loaded)),
                metadata={"game": loaded.name, "game_path": str(path), "run_name": run_name,
                          "options": opts.record(), "structured": opts.structured,
                          "roles": role_names(loaded)},
                viewer=ViewerConfig(trust_content=False))


def _describe(plan: SessionPlan, index: int) -> str:
    scoring, opts = plan.game.scoring, plan.options
    rounds = opts.rounds if opts.rounds is not None else 4 * len(scoring.speakers)
    return (f"Negotiation session {index} of {plan.game.name}: {len(scoring.parties)} parties, "
            f"{len(scoring.issues)} issues, {rounds} discussion turns, "
            f"{'with' if opts.vote else 'without'} a vote, run seed {opts.seed}.")


@task
@in_package
def game(game: str = "base", **options: Any) -> Task:
    """Any game folder (or shipped game name): ``-T game=PATH`` plus the task options."""
    return negotiation_task(f"{PACKAGE}/game", game, options)


@task
@in_package
def base(**options: Any) -> Task:
    """The paper's base game: 6 parties, 5 issues (a sports park)."""
    return negotiation_task(f"{PACKAGE}/base", "base", options)


@task
@in_package
def base_7parties(**options: Any) -> Task:
    """The base game with a seventh party."""
    return negotiation_task(f"{PACKAGE}/base_7parties", "base_7parties", options)


@task
@in_package
def hospital_merger(**options: Any) -> Task:
    """A hospital merger: 5 parties."""
    return negotiation_task(f"{PACKAGE}/hospital_merger", "hospital_merger", options)


@task
@in_package
def oss_licence(**options: Any) -> Task:
    """An open-source licence change: 4 parties."""
    return negotiation_task(f"{PACKAGE}/oss_licence", "oss_licence", options)


@task
@in_package
def river_dam(**options: Any) -> Task:
    """A river dam: 6 parties."""
    return negotiation_task(f"{PACKAGE}/river_dam", "river_dam", options)


GAME_TASKS = {"base": base, "base_7parties": base_7parties, "hospital_merger": hospital_merger,
              "oss_licence": oss_licence, "river_dam": river_dam}
"""Shipped game -> its task."""
