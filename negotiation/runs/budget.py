"""The ``max_cost`` guard of a sweep: no session starts once the estimate would pass the budget.

Spend is what the run folder's logs already cost when the sweep started, plus the live cost of
every call since (``Counters.cost``, counted where calls are made, in every worker). The
estimate for an unfinished session is the mean cost of the sessions completed so far;
``costs.budget_allows`` decides. Cached calls cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from negotiation.core.errors import ConfigError
from negotiation.logs.records import SessionLog
from negotiation.runs.costs import (
    PriceTable,
    budget_allows,
    run_cost,
    session_cost,
    unpriced_models,
)


@dataclass
class CostGuard:
    """Decides, session by session, whether the budget allows starting one more."""

    max_cost: float
    table: PriceTable
    spent_before: float = 0.0
    """Cost of the turns logged before this sweep started."""
    completed: list[float] = field(default_factory=list)
    """Costs of the sessions completed so far (this sweep and before)."""

    @classmethod
    def for_logs(cls, max_cost: float, table: PriceTable,
                 logs: Iterable[SessionLog]) -> CostGuard:
        """A guard for a sweep over ``logs``; every model must have a price."""
        logs = list(logs)
        missing = unpriced_models({p.model for log in logs for p in log.parties}, table)
        if missing:
            raise ConfigError(f"--max-cost: no price for {', '.join(missing)}")
        completed = [session_cost(log, table).known_cost for log in logs
                     if log.status == "complete"]
        return cls(max_cost, table, run_cost(logs, table).known_cost, completed)

    def session_done(self, log: SessionLog) -> None:
        """Record the cost of a session that just completed."""
        self.completed.append(session_cost(log, self.table).known_cost)

    def allows(self, live_cost: float, running: int) -> bool:
        """Whether one more session may start, ``running`` being in flight."""
        estimate = sum(self.completed) / len(self.completed) if self.completed else None
        return budget_allows(self.spent_before + live_cost, running, estimate, self.max_cost)
