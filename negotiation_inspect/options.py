"""Task options (``-T name=value``) of the negotiation tasks, checked the way ``main.py`` checks
its flags, and the one error type that inspect prints as a single line.

The options are ``main.py``'s: ``rounds``, ``window``, ``incentives``, ``vote``, ``seed``,
``sessions``, ``order``, ``memory``, ``summary_every``, ``name`` (``--name``), plus
``structured`` (main.py's ``--structured``: off, grammar, json or auto; given to the run
settings where the harness has them, always recorded; ``true``/``false`` mean auto/off),
``log_dir`` (also write each session's native log under ``LOG_DIR/NAME/``) and
``native_seats``. Generation
settings come from inspect's own flags (``--temperature``, ``--top-p``, ``--top-k``,
``--max-tokens``) and default to ``main.py``'s (temperature 0, 512 tokens); per-call seeds
derive from the session seed as in native runs (inspect's ``--seed`` is not used).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai._util.error import PrerequisiteError

from negotiation.backends.base import GenerateConfig
from negotiation.core.errors import ConfigError
from negotiation.core.phases import MEMORY_MODES, WINDOW_MEMORY
from negotiation.logs.safe_names import safe_component
from negotiation.protocol.speakers import POLICIES
from negotiation.runs import bounds


class TaskError(PrerequisiteError, ConfigError):
    """Bad input to a negotiation task: inspect's command line prints the message alone (no
    traceback) and stops before it writes a log; from Python it is a ``ValueError``.

    inspect prints it with rich, which would interpret ``[...]`` as markup and break a long
    line at the console width (80 columns when not on a terminal): the message is escaped and
    rich's console set to soft wrapping, so it stays one line (the terminal wraps it). Only
    under inspect's command line (its exception hook installed): a Python caller's console is
    left alone."""

    def __init__(self, message: str) -> None:
        from inspect_ai._util import error as inspect_errors
        from rich import get_console
        from rich.markup import escape

        ConfigError.__init__(self, message)
        PrerequisiteError.__init__(self, escape(message))
        self.text = message
        if getattr(inspect_errors, "_exception_hook_set", True):
            get_console().soft_wrap = True

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class TaskOptions:
    """The options of one negotiation task, validated."""

    rounds: int | None = None
    window: int = 6
    incentives: Mapping[str, str] = field(default_factory=dict)
    vote: bool = True
    seed: int = 0
    sessions: int = 1
    structured: str | None = None
    """None: the harness's default (main.py without ``--structured``)."""
    order: str = "paper"
    memory: str = WINDOW_MEMORY
    summary_every: int | None = None
    name: str | None = None
    log_dir: Path | None = None
    native_seats: bool = True

    def record(self) -> dict[str, Any]:
        """The options as recorded in the task's and samples' metadata."""
        return {"rounds": self.rounds, "window": self.window, "incentives": dict(self.incentives),
                "vote": self.vote, "seed": self.seed, "sessions": self.sessions,
                "structured": self.structured, "order": self.order, "memory": self.memory,
                "summary_every": self.summary_every, "name": self.name,
                "log_dir": str(self.log_dir) if self.log_dir else None,
                "native_seats": self.native_seats}


OPTION_NAMES: tuple[str, ...] = tuple(TaskOptions.__dataclass_fields__)
try:
    from negotiation.protocol.turn_schema import MODES as _MODES

    STRUCTURED_MODES: tuple[str, ...] = tuple(_MODES)
except ImportError:  # a harness without structured decoding: the option is recorded only
    STRUCTURED_MODES = ("off", "grammar", "json", "auto")


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no",
                                                            "0"):
        return value.strip().lower() in ("true", "yes", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TaskError(f"error: -T {name} must be true or false, got {value!r}")


def _int(name: str, value: Any, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TaskError(f"error: -T {name} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise TaskError(f"error: -T {name} must be an integer, got {value!r}") from None
    try:
        bounds.check(name, number, f"-T {name}")
    except ConfigError as err:
        raise TaskError(f"error: {err}") from None
    return number


def _structured(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None if value is None else ("auto" if value else "off")
    return _choice("structured", str(value).strip().lower(), STRUCTURED_MODES)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise TaskError(f"error: -T {name} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def parse_incentives(value: Any) -> dict[str, str]:
    """``{"Name": "greedy"}``, ``"Name=greedy,Other=untargeted_adv"`` or a list of
    ``"Name=INCENTIVE"``."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise TaskError(f"error: -T incentives expects \"Name=INCENTIVE,…\", got {value!r}")
        pairs = []
        for item in items:
            name, sep, incentive = str(item).partition("=")
            if not sep:
                raise TaskError(f"error: -T incentives expects \"Name=INCENTIVE\", got {item!r}")
            pairs.append((name, incentive))
    out = {name.strip(): incentive.strip() for name, incentive in pairs}
    if any(not k or not v for k, v in out.items()):
        raise TaskError(f"error: -T incentives expects \"Name=INCENTIVE\", got {value!r}")
    return out


def parse_options(task: str, options: Mapping[str, Any]) -> TaskOptions:
    """Validated options; an unknown one is a ``TaskError`` naming it."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TaskError(f"error: {task}: unknown task option {unknown[0]!r} "
                        f"(options: {', '.join(OPTION_NAMES)})")
    defaults = TaskOptions()
    get = options.get
    name = get("name")
    try:
        name = safe_component(str(name), "-T name") if name is not None else None
    except ConfigError as err:
        raise TaskError(f"error: {err}") from None
    sessions = _int("sessions", get("sessions", defaults.sessions))
    log_dir = get("log_dir")
    return TaskOptions(
        rounds=_int("rounds", get("rounds"), optional=True),
        window=_int("window", get("window", defaults.window)) or 0,
        incentives=parse_incentives(get("incentives")),
        vote=_bool("vote", get("vote", defaults.vote)),
        seed=_int("seed", get("seed", defaults.seed)) or 0,
        sessions=sessions if sessions is not None else 1,
        structured=_structured(get("structured")),
        order=_choice("order", get("order", defaults.order), POLICIES),
        memory=_choice("memory", get("memory", defaults.memory), MEMORY_MODES),
        summary_every=_int("summary_every", get("summary_every"), optional=True),
        name=name, log_dir=Path(str(log_dir)) if log_dir else None,
        native_seats=_bool("native_seats", get("native_seats", defaults.native_seats)))


def native_generation() -> GenerateConfig:
    """The session's generation settings from inspect's active generate config (the eval's
    ``--temperature``, ``--top-p``, ``--top-k``, ``--max-tokens``), else ``main.py``'s."""
    from inspect_ai.model._generate_config import active_generate_config

    active = active_generate_config()
    defaults = GenerateConfig()
    try:
        return GenerateConfig(
            temperature=defaults.temperature if active.temperature is None
            else float(active.temperature),
            top_p=active.top_p, top_k=active.top_k,
            max_tokens=active.max_tokens or defaults.max_tokens)
    except ValueError as err:
        raise TaskError(f"error: {err}") from None
