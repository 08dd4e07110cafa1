"""Structured turns as a condition of a run: modes resolved per seat and logged, ids that keep
free runs valid, JSON answers mapped to the turn record, servers that ignore the constraint
flagged, modes a backend cannot honour refused before any call, template echoes counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from negotiation.agents.structured import resolve_mode
from negotiation.core.errors import ConfigError
from negotiation.core.game import Deal
from negotiation.core.phases import Phase
from negotiation.logs.reading import load_logs
from negotiation.protocol.echo import template_echo
from negotiation.protocol.turn_schema import Bounds, TurnSchema
from negotiation_cli import main
from tests.fakes.fake_llm_server import FakeLLMServer
from tests.fakes.negotiation_replies import turn_text


def json_reply(body: dict[str, Any]) -> str:
    """A JSON answer following the request's schema (the first option of every enum)."""
    schema = body["response_format"]["json_schema"]["schema"]
    answer: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        prop = prop["anyOf"][0] if "anyOf" in prop else prop  # the non-null alternative
        if "enum" in prop:
            answer[name] = prop["enum"][0]
        elif prop.get("type") == "object":
            answer[name] = {k: v["enum"][-1] for k, v in prop["properties"].items()}
        else:
            answer[name] = f"my {name}"
    return json.dumps(answer)


def reply(body: dict[str, Any]) -> str:
    return json_reply(body) if "response_format" in body else turn_text(body)


def run(server: FakeLLMServer, out: Path, name: str, *extra: str) -> int:
    return main(["--game", "base", "--model", f"openai:fake@{server.openai_base_url}",
                 "--rounds", "4", "--out", str(out), "--name", name, "--quiet", *extra])


def test_json_answers_fill_the_turn_record_and_modes_are_logged(tmp_path: Path) -> None:
    with FakeLLMServer(reply) as server:
        assert run(server, tmp_path, "free") == 0
        assert run(server, tmp_path, "json", "--structured", "json") == 0
        bodies = [r.body for r in server.requests]
    free, constrained = (load_logs(tmp_path / n).logs[0] for n in ("free", "json"))
    assert free.session_id != constrained.session_id
    assert {p.structured for p in free.parties} == {"off"}
    assert {p.structured for p in constrained.parties} == {"json"}
    assert constrained.structured_bounds == vars(Bounds()) and free.structured_bounds == {}
    assert not any(t.constrained for t in free.turns)
    assert all(t.constrained and t.format_ok for t in constrained.turns)
    rnd = next(t for t in constrained.turns if t.phase is Phase.ROUND)
    assert json.loads(rnd.raw_output)["public"] == "my public"
    assert rnd.deal == Deal((3, 3, 4, 4, 5)) and rnd.public == "my public <DEAL>A3,B3,C4,D4,E5</DEAL>"
    assert rnd.scratchpad == "my scratchpad" and rnd.plan == ""  # its last turn: no plan
    assert constrained.turns[0].plan == "my plan"  # p1's opening has one
    assert constrained.turns[-1].vote == "ACCEPT"
    assert sum("response_format" in b for b in bodies) == len(constrained.turns)


def test_a_server_that_ignores_the_schema_is_parsed_and_flagged(tmp_path: Path) -> None:
    with FakeLLMServer(turn_text) as server:  # tagged text whatever the request asks
        assert run(server, tmp_path, "ignored", "--structured", "json") == 0
    log = load_logs(tmp_path / "ignored").logs[0]
    assert all(not t.constrained for t in log.turns)
    assert all(t.format_ok for t in log.turns if t.phase.is_public)
    assert log.turns[1].deal is not None


def test_modes_a_backend_cannot_honour_are_refused_before_any_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for model, mode, says in (("llamacpp:smollm2", "json", "llamacpp backend"),
                              ("gemini:gemini-2.0-flash", "grammar", "gemini backend")):
        assert main(["--game", "base", "--model", model, "--structured", mode, "--out",
                     str(tmp_path), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert says in err and "supports off" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_auto_resolves_per_seat() -> None:
    assert resolve_mode("auto", "llamacpp:smollm2") == "grammar"
    assert resolve_mode("auto", "hf:/some/folder") == "grammar"
    assert resolve_mode("auto", "openai:gpt-4o") == "off"
    assert resolve_mode("auto", "openai:qwen@http://127.0.0.1:8000/v1") == "off"
    assert resolve_mode("auto", "gemini:gemini-2.0-flash") == "off"
    assert resolve_mode("json", "scripted:rational") == "off"
    assert resolve_mode("grammar", "openai:qwen@http://127.0.0.1:8000/v1") == "grammar"
    with pytest.raises(ConfigError, match="supports off, json"):
        resolve_mode("grammar", "gemini:x")


def test_deal_space_own_needs_a_constrained_seat(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--game", "base", "--model", "scripted:rational", "--deal-space", "own",
                 "--out", str(tmp_path), "--quiet"]) == 2
    assert "no seat is constrained" in capsys.readouterr().err


def test_deal_space_own_restricts_the_schema(tmp_path: Path) -> None:
    with FakeLLMServer(reply) as server:
        assert run(server, tmp_path, "own", "--structured", "json", "--deal-space",
                   "own") == 0
        body = next(r.body for r in server.requests if "response_format" in r.body)
    log = load_logs(tmp_path / "own").logs[0]
    assert log.deal_space == "own"
    deal = body["response_format"]["json_schema"]["schema"]["properties"]["deal"]
    allowed = deal["enum"]
    assert allowed and all(isinstance(d, str) for d in allowed)
    minimum = log.parties[0].minimum
    scoring = log.scoring()
    from negotiation.core.rules import parse_deal, score

    assert all(score(parse_deal(d, scoring.issues), scoring.parties[0]) >= minimum
               for d in allowed)


def test_template_echoes_are_detected_from_the_logged_prompt() -> None:
    old = ("Write your reply in exactly this format:\n<SCRATCHPAD>your private reasoning; nobody "
           "else sees it</SCRATCHPAD>\n<ANSWER>your public message to all parties, ... "
           "<DEAL>A1,B1,C1,D1,E1</DEAL></ANSWER>")
    first = Deal((1, 1, 1, 1, 1))
    assert template_echo(old, "your public message to all parties", "", "", None, Phase.ROUND)
    assert template_echo(old, "Let us agree <DEAL>A1,B1,C1,D1,E1</DEAL>", "", "", first,
                         Phase.ROUND)
    assert not template_echo(old, "Let us agree on A2.", "thinking", "", None, Phase.ROUND)
    assert not template_echo(old, "<DEAL>A1,B1,C1,D1,E1</DEAL>", "", "", first, Phase.OPENING)
    new = "Reply with these sections, in this order:\n…\n<ANSWER>… <DEAL>A?,B?,C?</DEAL></ANSWER>"
    assert template_echo(new, "…", "", "", None, Phase.ROUND)
    assert template_echo(new, "I propose <DEAL>A?,B?,C?</DEAL>", "", "", None, Phase.ROUND)
    assert not template_echo(new, "I propose A1 and B2.", "", "", None, Phase.ROUND)


def test_schema_bounds_set_max_tokens_above_the_longest_answer() -> None:
    from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game
    from negotiation.protocol.prompting import preview_observation

    game = load_game(DEFAULT_GAMES_DIR / "base")
    party = game.parties[0]
    for phase in (Phase.OPENING, Phase.ROUND, Phase.FINAL, Phase.VOTE):
        schema = TurnSchema.for_observation(preview_observation(game, party, party.name, phase))
        assert schema is not None and schema.max_tokens() >= 4 * schema.max_chars()
    with pytest.raises(ConfigError, match="public"):
        Bounds.parse("public=0")
    assert Bounds.parse("public=50,plan=20") == Bounds(public=50, plan=20)
