"""Session logs: versioned pydantic records, written atomically after every turn.

A session log is self-contained: it carries the score sheets and thresholds, every party's
model and settings and initial prompt, the speaking order and every turn, so evaluation never
needs the game folder. It never holds an API key.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from negotiation.core.game import DealValue, Issue, Party, Scoring
from negotiation.core.phases import MODERATOR_ORDER, SUMMARY_MEMORY, Phase
from negotiation.core.rules import Outcome
from negotiation.logs.safe_names import check_safe

FORMAT_VERSION = 2
"""2: deals are lists of option names, outcomes the rules core's ``Outcome``, turns say whether
they came from the response cache. 1 (read, upgraded on load): deals as ``"A1,B2"`` strings."""
VOLATILE_FIELDS: frozenset[str] = frozenset(
    {"created_at", "updated_at", "latency_s", "package_versions", "started_at", "path",
     "cached", "worker", "error_traceback"})
"""Fields that legitimately differ between two identical runs (times, machine, location, and
whether an answer came from the response cache)."""

Status = Literal["running", "complete", "failed"]
MAX_SEED = 2**63 - 1
"""Seeds and indices fit a signed 64-bit integer (SQLite, Parquet)."""
SafeName = Annotated[str, AfterValidator(check_safe)]
"""A string that names a file or folder: one safe path component (``logs.safe_names``)."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnRecord(_Record):
    """One model call of the session."""

    index: int
    """Position in the session's step list (0 = p1's opening)."""
    party: str
    """Display name of the party that spoke (the stakeholder, whose sheet scores its deal)."""
    speaker: str | None = None
    """The representative who spoke, when the party has several (``Name 2``)."""
    phase: Phase
    """opening, round, final (p1's official proposal), vote; or, for the optional helper
    models, summary (the summarizer) and moderator (its speaker choice in ``public``)."""
    prompt: str
    """The user message of this turn (the initial prompt is stored once per party)."""
    raw_output: str
    """The model's text exactly as returned."""
    public: str
    """The public message other parties see."""
    scratchpad: str = ""
    """Private reasoning (never shown to others)."""
    plan: str = ""
    """Private notes carried to the party's next turn."""
    deal: DealValue | None = None
    """The deal proposed in the public message (``["A1", "B2", …]``), if a full valid one."""
    deal_source: str = "none"
    """Where the deal was found: tag, text or none."""
    vote: str | None = None
    """ACCEPT or REJECT in the vote phase; None when missing or unreadable."""
    found: list[str] = Field(default_factory=list)
    """Format tags found in the output."""
    repairs: list[str] = Field(default_factory=list)
    """What the parser repaired."""
    parse_issues: list[str] = Field(default_factory=list)
    """Problems the parser could not repair (conflicting options, unknown options, …)."""
    format_ok: bool = False
    """Whether the output followed the requested format without repairs."""
    own_score: int | None = None
    """The speaker's score for its deal (or, for a vote, for the final deal)."""
    input_tokens: int = 0
    """Prompt tokens reported by the provider."""
    output_tokens: int = 0
    """Completion tokens reported by the provider."""
    latency_s: float = 0.0
    """Wall time of the call, retries included (volatile)."""
    finish_reason: str = ""
    """The provider's finish reason (stop, length, …)."""
    model_id: str = ""
    """The model identifier the provider reported."""
    retries: int = 0
    """Retried attempts before the answer."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific figures (e.g. prompt tokens actually evaluated by a local model)."""
    cached: bool = False
    """The answer came from the run's response cache: no model call, no cost (volatile)."""
    constrained: bool = False
    """The answer was produced under its seat's structured-output constraint (a grammar or a
    JSON schema) and follows it; False for free turns and for a server that ignored it."""


class PartyRecord(_Record):
    """A party as it played this session."""

    name: str
    """Display name."""
    file_name: SafeName
    """Its file name in the game folder."""
    role: str
    """p1, p2, target or player."""
    incentive: str
    """cooperative, greedy, untargeted_adv, targeted_adv or a custom one."""
    model: str
    """The resolved model spec, e.g. ``openai:gpt-4o`` or ``llamacpp:smollm2``."""
    generation: dict[str, Any]
    """Generation settings (temperature, top_p, top_k, max_tokens, seed, timeout_s)."""
    scores: list[list[int]]
    """Score sheet: one row per issue."""
    minimum: int
    """Minimum acceptable score."""
    initial_prompt: str
    """The system prompt this party saw on every turn (its first representative's when it has
    several)."""
    representatives: dict[str, str] = Field(default_factory=dict)
    """With count=K > 1: representative name -> that representative's system prompt."""
    structured: str = "off"
    """The party's structured mode as resolved for its seat: off, grammar or json (scripted
    and human seats are off: they answer in structure already)."""


class GameRef(_Record):
    """Which game was played."""

    name: str
    """Folder name."""
    path: str
    """Folder path when the session ran (volatile)."""
    content_hash: str
    """SHA-256 over the game folder's files, to detect edited games."""


class SessionLog(_Record):
    """The record of one negotiation session."""

    format_version: int = FORMAT_VERSION
    """Version of this schema (older versions are read and upgraded; newer ones refused)."""
    session_id: SafeName
    """Stable id derived from the run configuration and the session index."""
    run_name: SafeName
    """Name of the run folder."""
    session_index: int = Field(ge=0, le=MAX_SEED)
    """Index of this session within its run."""
    status: Status = "running"
    """running, complete or failed."""
    error: str | None = None
    """The error that stopped a failed session (``Type: message``)."""
    error_traceback: str | None = None
    """Where that error happened (volatile: line numbers change between versions)."""
    worker: str = ""
    """The process that ran the session last, ``pid@host`` (volatile)."""
    game: GameRef
    """The game played."""
    issues: list[dict[str, Any]]
    """``[{"letter": "A", "n_options": 3}, …]``."""
    parties: list[PartyRecord]
    """Parties in config order."""
    proposer: str
    """The party that opened and made the final proposal."""
    seed: int = Field(ge=0, le=MAX_SEED)
    """Seed of this session (speaking order and per-call seeds derive from it)."""
    rounds: int
    """Number of discussion turns."""
    window: int
    """How many recent public messages each round prompt shows."""
    vote: bool
    """Whether the vote phase runs."""
    order: list[str]
    """Speaker of each discussion turn (with the moderator policy, the choices made so far)."""
    order_policy: str = "paper"
    """Speaker-selection policy: paper, round-robin, random or moderator."""
    memory: str = "window"
    """window (the last ``window`` messages) or summary (running summaries plus the window)."""
    summary_every: int = 0
    """With summary memory, a summary is written after every this many discussion turns."""
    helpers: dict[str, str] = Field(default_factory=dict)
    """Model specs of the helper roles used: ``summarizer``, ``moderator``."""
    helper_structured: dict[str, str] = Field(default_factory=dict)
    """The structured mode of each helper seat (the summarizer's free text is never
    constrained)."""
    structured_bounds: dict[str, int] = Field(default_factory=dict)
    """Character bounds of the constrained fields (``turn_schema.Bounds``); empty when no seat
    is constrained."""
    deal_space: str = "all"
    """all, or own: constrained seats may only name deals that clear their own minimum (an
    ablation: their wrong-deal rate is 0 by construction)."""
    turns: list[TurnRecord] = Field(default_factory=list)
    """Every completed call, in order."""
    final_deal: DealValue | None = None
    """p1's final proposal (``["A1", "B2", …]``), None if it named no full deal."""
    threshold_outcome: Outcome | None = None
    """The outcome by the rules core (scores vs minimums)."""
    vote_outcome: Outcome | None = None
    """The outcome by the parties' votes (p1 counts as accepting its own proposal)."""
    outcomes_differ: bool | None = None
    """True when the threshold and vote outcomes disagree on passing."""
    final_scores: dict[str, int] = Field(default_factory=dict)
    """Each party's score for the final deal (p1's includes the unanimity bonus if earned)."""
    created_at: str = ""
    """When the session started (volatile)."""
    updated_at: str = ""
    """When the log was last written (volatile)."""
    package_versions: dict[str, str] = Field(default_factory=dict)
    """Versions of the harness and SDKs (volatile)."""

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if not 1 <= value <= FORMAT_VERSION:
            raise ValueError(f"format_version {value} is not one this harness reads "
                             f"(1-{FORMAT_VERSION}); upgrade the harness")
        return FORMAT_VERSION

    @property
    def summarizes(self) -> bool:
        """Whether a summarizer writes a summary every ``summary_every`` discussion turns."""
        return self.memory == SUMMARY_MEMORY and self.summary_every > 0

    @property
    def moderated(self) -> bool:
        """Whether a moderator picks each next speaker (the order grows turn by turn)."""
        return self.order_policy == MODERATOR_ORDER

    def scoring(self) -> Scoring:
        """Rebuild the scoring view from the log alone."""
        issues = tuple(Issue(i["letter"], i["n_options"]) for i in self.issues)
        parties = tuple(Party(p.name, p.file_name, p.role, p.incentive, p.model,
                              tuple(tuple(r) for r in p.scores), p.minimum,
                              count=max(1, len(p.representatives)))
                        for p in self.parties)
        return Scoring(self.game.name, Path(self.game.path), issues, parties)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_log(log: SessionLog, path: Path) -> None:
    """Write a session log atomically."""
    write_atomic(path, log.model_dump_json(indent=1) + "\n")


def strip_volatile(data: Any) -> Any:
    """A copy of a dumped log without ``VOLATILE_FIELDS`` (for comparing two runs)."""
    if isinstance(data, dict):
        return {k: strip_volatile(v) for k, v in data.items() if k not in VOLATILE_FIELDS}
    if isinstance(data, list):
        return [strip_volatile(v) for v in data]
    return data


def comparable(path: Path) -> Any:
    """A log file's content with volatile fields removed."""
    return strip_volatile(json.loads(path.read_text(encoding="utf-8")))
