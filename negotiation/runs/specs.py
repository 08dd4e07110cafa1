"""The contract between experiment files and the sweep runner: what to run, nothing about how.

An experiment file (``runs/experiment.py``) or the CLI's flags expand into an ``ExperimentPlan``:
a list of ``SessionSpec`` (one per session, each with a stable id) plus execution settings. The
sweep runner (``runs/sweep.py``) only consumes plans, so CLI flags and YAML files share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from negotiation.runs.setup import RunSettings

CacheSetting = Literal["on", "off", "replay"]


@dataclass(frozen=True)
class RateLimit:
    """Limits of one provider (``openai``, ``gemini``, …) across all sessions of a sweep."""

    max_in_flight: int | None = None
    """Calls in flight at most; None: as many as the sweep's concurrency allows."""
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def __post_init__(self) -> None:
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0")


@dataclass(frozen=True)
class SessionSpec:
    """One session to run: a game (optionally a party subset), incentives, settings, index."""

    game: Path
    """Path of the game folder."""
    settings: RunSettings
    """Models, rounds, window, vote, seed and generation settings."""
    index: int = 0
    """Repetition index (the session seed derives from ``settings.seed`` and it)."""
    parties: tuple[str, ...] | None = None
    """Keep only these parties (None: all)."""
    incentives: Mapping[str, str] = field(default_factory=dict)
    """Incentive overrides by party name."""
    label: str = ""
    """Human-readable description of the condition, for ``--dry-run`` and summaries."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "incentives", MappingProxyType(dict(self.incentives)))
        if self.index < 0:
            raise ValueError("index must be >= 0")


@dataclass(frozen=True)
class ExperimentPlan:
    """Everything a sweep needs."""

    name: str
    """Run folder name under ``out``."""
    out: Path
    """Output folder (default ``logs``)."""
    sessions: tuple[SessionSpec, ...]
    """The sessions, in a stable order."""
    concurrency: int = 4
    """Sessions running at once."""
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    """Per-provider limits, keyed by provider name (``openai``, ``gemini``, ``hf``, …)."""
    max_cost: float | None = None
    """Stop launching sessions once the estimated cost would exceed this (price-table units)."""
    prices: Path | None = None
    """Price table (``prices.yaml``) used for cost estimates."""
    workers: int = 1
    """Worker processes on this machine (the parent drives them and writes the run folder)."""
    cache: CacheSetting = "on"
    """The run's response cache: on (answer repeats from it), off, or replay (answer only from
    it: no model is called)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate_limits", MappingProxyType(dict(self.rate_limits)))
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")

    @property
    def run_dir(self) -> Path:
        """The folder holding this run's session logs, lock and summary."""
        return self.out / self.name
