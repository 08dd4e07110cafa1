"""Cost accounting: a user-edited price table turns logged token counts into estimated costs.

``prices.yaml`` (see ``docs/exports.md``) maps a model spec or a glob over specs to prices per
million input and output tokens::

    as_of: 2026-11-22          # optional metadata: as_of, currency, note, example
    currency: USD
    prices:
      "openai:gpt-4o": {input_per_million: 2.5, output_per_million: 10.0}
      "openai:*": {input_per_million: 5.0, output_per_million: 15.0}
      "scripted:*": {input_per_million: 0, output_per_million: 0}

Lookup (``PriceTable.lookup``), first hit wins: (1) the exact spec; (2) the longest glob
(``fnmatch``: ``*``, ``?``, ``[…]``; ties go to the earlier entry) matching it, where a spec
with an ``@base-url`` only matches keys that also name one; then (3) and (4), the same for the
spec without its ``@base-url``. A model with no price has an *unknown* cost (None), never 0:
totals that include it report it as unknown and name the model.
"""

from __future__ import annotations

import fnmatch
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from negotiation.core.errors import ConfigError
from negotiation.core.phases import HelperRole
from negotiation.logs.records import SessionLog

DEFAULT_PRICES = Path(__file__).resolve().parents[2] / "prices.yaml"
"""The example table shipped at the repository root."""
_META_KEYS = frozenset({"as_of", "currency", "note", "example", "prices"})
_PRICE_KEYS = ("input_per_million", "output_per_million")


@dataclass(frozen=True)
class Price:
    """Price of one model, per million tokens (in the table's currency)."""

    input_per_million: float
    output_per_million: float


@dataclass(frozen=True)
class PriceTable:
    """Prices by spec or glob, in file order, plus the table's metadata."""

    entries: tuple[tuple[str, Price], ...] = ()
    currency: str = "USD"
    as_of: str = ""
    source: str = ""
    example: bool = False
    """True for the shipped example table (``example: true``): say so next to estimates."""

    def lookup(self, model_spec: str) -> Price | None:
        """The price of ``model_spec`` by the precedence above; None when none applies
        (memoised: the cost guard prices every call)."""
        return _lookup(self, model_spec)


@functools.lru_cache(maxsize=4096)
def _lookup(table: PriceTable, model_spec: str) -> Price | None:
    candidates = [model_spec]
    if "@" in model_spec:
        candidates.append(model_spec.split("@", 1)[0])
    exact = {k: p for k, p in table.entries if not _is_glob(k)}
    for spec in candidates:
        if spec in exact:
            return exact[spec]
        globs = [(key, price) for key, price in table.entries if _is_glob(key)
                 and ("@" in key) == ("@" in spec) and fnmatch.fnmatchcase(spec, key)]
        if globs:
            return max(globs, key=lambda kv: len(kv[0]))[1]
    return None


def _is_glob(key: str) -> bool:
    return any(ch in key for ch in "*?[")


def default_prices_path() -> Path | None:
    """``./prices.yaml`` if present, else the shipped example, else None."""
    for path in (Path("prices.yaml"), DEFAULT_PRICES):
        if path.is_file():
            return path
    return None


def cost_of(model_spec: str, input_tokens: int, output_tokens: int,
            table: PriceTable) -> float | None:
    """Estimated cost of one call (or a sum of calls); None when the model has no price."""
    price = table.lookup(model_spec)
    if price is None:
        return None
    return (input_tokens * price.input_per_million
            + output_tokens * price.output_per_million) / 1_000_000


def _fail(path: Path, node: yaml.Node | None, message: str) -> ConfigError:
    line = f":{node.start_mark.line + 1}" if node is not None else ""
    return ConfigError(f"{path}{line}: {message}")


def _number(path: Path, loader: yaml.SafeLoader, node: yaml.Node, what: str) -> float:
    value = loader.construct_object(node, deep=True) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, node, f"{what} must be a number, got {getattr(node, 'value', node)!r}")
    if not math.isfinite(value) or value < 0:
        raise _fail(path, node, f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


def _price(path: Path, loader: yaml.SafeLoader, key: str, node: yaml.Node) -> Price:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(path, node,
                    f"{key!r}: expected {{input_per_million: N, output_per_million: N}}")
    found: dict[str, float] = {}
    for k_node, v_node in node.value:
        name = k_node.value
        if name not in _PRICE_KEYS:
            raise _fail(path, k_node, f"{key!r}: unknown key {name!r} "
                        f"(expected {', '.join(_PRICE_KEYS)})")
        found[name] = _number(path, loader, v_node, f"{key!r}.{name}")
    missing = [k for k in _PRICE_KEYS if k not in found]
    if missing:
        raise _fail(path, node, f"{key!r}: missing {', '.join(missing)}")
    return Price(found["input_per_million"], found["output_per_million"])


def _entries(path: Path, loader: yaml.SafeLoader,
             node: yaml.Node) -> tuple[tuple[str, Price], ...]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(path, node, "'prices' must map model specs to prices")
    entries: dict[str, Price] = {}
    for k_node, v_node in node.value:
        key = k_node.value if isinstance(k_node, yaml.ScalarNode) else None
        if not isinstance(key, str) or ":" not in key.strip(":"):
            raise _fail(path, k_node, f"price key {key!r} must be a model spec or glob such as "
                        "'openai:gpt-4o' or 'openai:*'")
        if key in entries:
            raise _fail(path, k_node, f"duplicate price entry {key!r}")
        entries[key] = _price(path, loader, key, v_node)
    return tuple(entries.items())


def _table(path: Path, loader: yaml.SafeLoader, root: yaml.Node | None) -> PriceTable:
    if root is None:
        raise _fail(path, None, "empty price table (expected a 'prices:' mapping)")
    if not isinstance(root, yaml.MappingNode):
        raise _fail(path, root, "expected a mapping with a 'prices:' key")
    meta: dict[str, Any] = {}
    for k_node, v_node in root.value:
        if k_node.value not in _META_KEYS:
            raise _fail(path, k_node, f"unknown key {k_node.value!r} "
                        f"(expected {', '.join(sorted(_META_KEYS))})")
        meta[k_node.value] = v_node
    if "prices" not in meta:
        raise _fail(path, root, "missing 'prices:' mapping")
    value = {k: loader.construct_object(v, deep=True) for k, v in meta.items() if k != "prices"}
    return PriceTable(_entries(path, loader, meta["prices"]), str(value.get("currency", "USD")),
                      str(value.get("as_of", "")), str(path), value.get("example") is True)


def load_prices(path: Path) -> PriceTable:
    """Read and validate a price table; errors are ConfigError naming ``file:line``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read price table: {err.strerror or err}") from None
    loader = yaml.SafeLoader(text)
    try:
        return _table(path, loader, loader.get_single_node())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {err.problem or err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    finally:
        loader.dispose()


@dataclass
class Usage:
    """Tokens and estimated cost of some calls; ``cost`` None means unknown."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = 0.0

    def add(self, input_tokens: int, output_tokens: int, cost: float | None,
            calls: int = 1) -> None:
        """Count more calls (one unknown cost makes the total unknown)."""
        self.calls += calls
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cost = None if cost is None or self.cost is None else self.cost + cost


@dataclass
class CostTotals:
    """Usage of one session or a whole run, by party and by model spec."""

    sessions: int = 0
    by_party: dict[str, Usage] = field(default_factory=dict)
    by_model: dict[str, Usage] = field(default_factory=dict)
    currency: str = "USD"

    @property
    def input_tokens(self) -> int:
        """All input tokens."""
        return sum(u.input_tokens for u in self.by_model.values())

    @property
    def output_tokens(self) -> int:
        """All output tokens."""
        return sum(u.output_tokens for u in self.by_model.values())

    @property
    def unknown_models(self) -> list[str]:
        """Specs without a price (their cost is unknown)."""
        return sorted(m for m, u in self.by_model.items() if u.cost is None)

    @property
    def known_cost(self) -> float:
        """Cost of the priced models only (a lower bound when some are unknown)."""
        return sum(u.cost for u in self.by_model.values() if u.cost is not None)

    @property
    def cost(self) -> float | None:
        """Total estimated cost; None when any model's price is unknown."""
        return None if self.unknown_models else self.known_cost

    def merge(self, other: CostTotals) -> None:
        """Add another session's (or run's) totals to these."""
        self.sessions += other.sessions
        for mine, theirs in ((self.by_party, other.by_party), (self.by_model, other.by_model)):
            for key, usage in theirs.items():
                mine.setdefault(key, Usage()).add(usage.input_tokens, usage.output_tokens,
                                                  usage.cost, usage.calls)


def session_cost(log: SessionLog, table: PriceTable) -> CostTotals:
    """Tokens and cost of every turn in ``log`` (complete or not), by party and model."""
    models = {p.name: p.model for p in log.parties}
    models.update({HelperRole(role).seat: spec for role, spec in log.helpers.items()})
    totals = CostTotals(sessions=1, currency=table.currency)
    for turn in log.turns:
        model = models.get(turn.party, "?")
        cost = 0.0 if turn.cached else cost_of(model, turn.input_tokens, turn.output_tokens,
                                                 table)
        for key, bucket in ((turn.party, totals.by_party), (model, totals.by_model)):
            bucket.setdefault(key, Usage()).add(turn.input_tokens, turn.output_tokens, cost)
    return totals


def run_cost(logs: Iterable[SessionLog], table: PriceTable) -> CostTotals:
    """Totals over many sessions (parties keyed by display name)."""
    totals = CostTotals(currency=table.currency)
    for log in logs:
        totals.merge(session_cost(log, table))
    return totals


def format_cost(totals: CostTotals) -> str:
    """``0.0123 USD``, or ``unknown (no price for …)`` with the priced part."""
    if totals.cost is not None:
        return f"{totals.cost:.4f} {totals.currency}"
    return (f"unknown (no price for {', '.join(totals.unknown_models)}; priced models "
            f"{totals.known_cost:.4f} {totals.currency})")


def unpriced_models(specs: Iterable[str], table: PriceTable) -> list[str]:
    """The specs among ``specs`` with no price (a runner should refuse ``--max-cost`` then)."""
    return sorted({s for s in specs if table.lookup(s) is None})


def estimate_session_cost(logs: Sequence[SessionLog], table: PriceTable) -> float | None:
    """Mean estimated cost of the *complete* sessions in ``logs``.

    None when no session is complete yet or when any complete session used an unpriced model
    (an estimate that ignores part of the spend must not drive a budget). A sweep uses it for
    ``--max-cost`` through ``budget_allows``.
    """
    costs = [session_cost(log, table).cost for log in logs if log.status == "complete"]
    if not costs or any(c is None for c in costs):
        return None
    return sum(c for c in costs if c is not None) / len(costs)


def budget_allows(spent: float, in_flight: int, estimate: float | None, max_cost: float) -> bool:
    """Whether one more session may start under ``max_cost``.

    ``spent``: cost of every logged turn so far (failed and unfinished sessions included);
    ``in_flight``: sessions started but not finished, each assumed to cost ``estimate`` more
    (a conservative bound). Without an estimate (no complete session yet) a session may start
    while ``spent < max_cost``.
    """
    if estimate is None:
        return spent < max_cost
    return spent + (in_flight + 1) * estimate <= max_cost
