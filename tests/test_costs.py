"""Price tables, cost lookup precedence, unknown costs, totals and the budget helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from negotiation.core.errors import ConfigError
from negotiation.logs.reading import read_log as load_log
from negotiation.logs.records import SessionLog
from negotiation.runs.costs import (
    DEFAULT_PRICES,
    Price,
    PriceTable,
    budget_allows,
    cost_of,
    estimate_session_cost,
    format_cost,
    load_prices,
    run_cost,
    session_cost,
    unpriced_models,
)
from negotiation_cli import main

TABLE = PriceTable((
    ("openai:gpt-4o", Price(2.5, 10.0)),
    ("openai:gpt-4o*", Price(3.0, 12.0)),
    ("openai:*", Price(10.0, 30.0)),
    ("openai:*@http://127.0.0.1*", Price(0.0, 0.0)),
    ("scripted:*", Price(0.0, 0.0)),
    ("scripted:greedy", Price(1.0, 2.0)),
))


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[SessionLog]:
    out = tmp_path_factory.mktemp("runs")
    assert main(["--game", "base", "--model", "scripted:rational", "--rounds", "6",
                 "--sessions", "3", "--out", str(out), "--name", "r", "--quiet"]) == 0
    return [load_log(p) for p in sorted((out / "r").glob("session-*.json"))]


def test_shipped_table_is_a_dated_example() -> None:
    table = load_prices(DEFAULT_PRICES)
    text = DEFAULT_PRICES.read_text(encoding="utf-8")
    assert table.example and table.as_of == "2026-11-22" and table.currency == "USD"
    assert "EXAMPLE" in text and "edit before trusting cost estimates" in text
    for spec in ("llamacpp:smollm2", "hf:/models/x", "scripted:rational",
                 "openai:qwen@http://127.0.0.1:8000/v1"):
        assert cost_of(spec, 10**6, 10**6, table) == 0.0
    for spec in ("openai:gpt-4o", "openai:some-new-model", "gemini:gemini-2.0-flash"):
        assert (cost_of(spec, 1000, 1000, table) or 0) > 0
    assert cost_of("azure:my-deployment", 1000, 1000, table) is None


@pytest.mark.parametrize(("spec", "price"), [
    ("openai:gpt-4o", Price(2.5, 10.0)),                    # exact beats every glob
    ("openai:gpt-4o-mini", Price(3.0, 12.0)),               # longest glob wins
    ("openai:o3", Price(10.0, 30.0)),
    ("scripted:greedy", Price(1.0, 2.0)),                   # exact beats an earlier glob
    ("scripted:rational", Price(0.0, 0.0)),
    ("openai:qwen@http://127.0.0.1:8000/v1", Price(0.0, 0.0)),  # base-url glob
    ("openai:gpt-4o@https://proxy.example/v1", Price(2.5, 10.0)),  # exact spec sans base URL
    ("gemini:gemini-2.0-flash", None),
])
def test_lookup_precedence(spec: str, price: Price | None) -> None:
    assert TABLE.lookup(spec) == price


def test_cost_of() -> None:
    assert cost_of("openai:gpt-4o", 1_000_000, 500_000, TABLE) == pytest.approx(7.5)
    assert cost_of("openai:gpt-4o", 0, 0, TABLE) == 0.0
    assert cost_of("unknown:model", 10, 10, TABLE) is None
    assert unpriced_models(["openai:x", "gemini:y", "gemini:y"], TABLE) == ["gemini:y"]


def test_session_and_run_totals(logs: list[SessionLog]) -> None:
    log = logs[0]
    totals = session_cost(log, TABLE)
    assert totals.input_tokens == sum(t.input_tokens for t in log.turns)
    assert totals.output_tokens == sum(t.output_tokens for t in log.turns)
    assert set(totals.by_party) == {t.party for t in log.turns}
    assert sum(u.calls for u in totals.by_party.values()) == len(log.turns)
    assert totals.cost == 0.0 and totals.unknown_models == []
    run = run_cost(logs, TABLE)
    assert run.sessions == 3 and run.by_model["scripted:rational"].calls == sum(
        len(lg.turns) for lg in logs)
    assert format_cost(run) == "0.0000 USD"


def test_unknown_model_is_unknown_not_zero(logs: list[SessionLog]) -> None:
    log = logs[0].model_copy(deep=True)
    log.parties[1].model = "gemini:unpriced"
    log.parties[2].model = "openai:gpt-4o"
    totals = session_cost(log, TABLE)
    assert totals.by_model["gemini:unpriced"].cost is None
    assert totals.by_party[log.parties[1].name].cost is None
    assert totals.cost is None and totals.unknown_models == ["gemini:unpriced"]
    assert totals.known_cost == pytest.approx(totals.by_model["openai:gpt-4o"].cost or -1)
    assert totals.known_cost > 0
    text = format_cost(totals)
    assert "unknown" in text and "gemini:unpriced" in text
    run = run_cost([log, logs[1]], TABLE)
    assert run.cost is None and "unknown" in format_cost(run)


def test_estimate_session_cost(logs: list[SessionLog]) -> None:
    priced = PriceTable((("scripted:*", Price(1000.0, 2000.0)),))
    costs = [session_cost(lg, priced).cost or 0 for lg in logs]
    assert estimate_session_cost(logs, priced) == pytest.approx(sum(costs) / 3)
    running = logs[0].model_copy(update={"status": "running"})
    assert estimate_session_cost([running, logs[1]], priced) == pytest.approx(costs[1])
    assert estimate_session_cost([running], priced) is None
    assert estimate_session_cost(logs, PriceTable()) is None


def test_budget_allows() -> None:
    assert budget_allows(0.0, 0, None, 1.0)
    assert not budget_allows(1.0, 0, None, 1.0)
    assert budget_allows(0.5, 1, 0.2, 1.0)          # 0.5 + 2 x 0.2 <= 1
    assert not budget_allows(0.5, 2, 0.2, 1.0)      # 0.5 + 3 x 0.2 > 1


GOOD = "prices:\n  'openai:*': {input_per_million: 1, output_per_million: 2}\n"


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("prices:\n  'openai:*': {input_per_million: 1}\n", 2, "missing output_per_million"),
    ("prices:\n  'openai:*':\n    input_per_million: -1\n    output_per_million: 1\n", 3,
     ">= 0"),
    ("prices:\n  'a:b': {input_per_million: 1, output_per_million: 2}\n"
     "  'openai:*': {input_per_million: cheap, output_per_million: 2}\n", 3, "must be a number"),
    ("prices:\n  'openai:*': {input_per_million: 1, output_per_million: 2, cache: 1}\n", 2,
     "unknown key 'cache'"),
    (GOOD + "  'openai:*': {input_per_million: 1, output_per_million: 2}\n", 3, "duplicate"),
    ("prices:\n  gpt4: {input_per_million: 1, output_per_million: 2}\n", 2, "model spec"),
    (GOOD + "pricez: 1\n", 3, "unknown key 'pricez'"),
    ("prices:\n  'openai:*': [1, 2]\n", 2, "expected"),
    ("prices:\n  'openai:*': {input_per_million: 1, output_per_million: 2\n", 3, "invalid YAML"),
    ("as_of: 2026-11-22\n", 1, "missing 'prices:'"),
    ("prices:\n  'openai:*': {input_per_million: true, output_per_million: 2}\n", 2, "number"),
])
def test_malformed_table_names_file_and_line(tmp_path: Path, text: str, line: int,
                                             fragment: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_prices(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert fragment in message


def test_empty_or_missing_table(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty price table"):
        load_prices(tmp_path / "empty.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_prices(tmp_path / "absent.yaml")
    (tmp_path / "ok.yaml").write_text(GOOD, encoding="utf-8")
    table = load_prices(tmp_path / "ok.yaml")
    assert table.entries == (("openai:*", Price(1.0, 2.0)),) and not table.example
