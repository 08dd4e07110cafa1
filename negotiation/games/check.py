"""``check``: validate a game and summarise its analysis as a JSON-ready dict and as text.

What ``check`` passes can run: besides the loader's checks it renders every prompt of every
party (each representative) in every phase, and the helpers' prompts, through the game's own
templates, and parses the model column of ``config.txt``. A run validates its games the same way
before it writes anything.

The JSON keys (name, parties, issues, deals, feasible, unanimous, …) are a contract other
tools rely on; add keys, never rename them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from negotiation.agents.registry import SCRIPTED_POLICIES
from negotiation.agents.specs import legacy_to_spec, parse_spec
from negotiation.core.deal_space import MAX_DEALS, Analysis, analyse
from negotiation.core.errors import ConfigError, GameFormatError
from negotiation.core.game import Game
from negotiation.core.phases import PARTY_PHASES, Phase
from negotiation.games.roles import role_names
from negotiation.core.rules import DEFAULT_POLICY, STRICT_POLICY
from negotiation.protocol.prompting import PromptBuilder, preview_observation
from negotiation.protocol.turn_schema import TurnSchema

STRICT = STRICT_POLICY


def check_models(game: Game) -> None:
    """Every entry of the model column is a spec the harness can seat (``GameFormatError``)."""
    for party in game.parties:
        try:
            spec = parse_spec(legacy_to_spec(party.model))
        except ConfigError as err:
            raise GameFormatError(game.scoring.path / "config.txt", str(err), party.line) from None
        if spec.provider == "scripted" and spec.model not in SCRIPTED_POLICIES:
            raise GameFormatError(game.scoring.path / "config.txt",
                                  f"unknown scripted policy {spec.model!r} (known: "
                                  f"{', '.join(SCRIPTED_POLICIES)})", party.line)


def render_all(game: Game) -> int:
    """Render every prompt a session of ``game`` can show (``TemplateError`` on the first that
    fails); returns how many were rendered."""
    builder, count = PromptBuilder(game), 0
    for party in game.parties:
        for speaker in party.speakers:
            builder.initial(party, speaker)
            for phase in PARTY_PHASES:
                builder.user_message(preview_observation(game, party, speaker, phase))
                count += 1
            count += 1
    first = preview_observation(game, game.parties[0], game.parties[0].speakers[0], Phase.ROUND)
    for phase in (Phase.SUMMARY, Phase.MODERATOR):
        seat = phase.helper.seat if phase.helper else ""
        builder.helper_messages(dataclasses.replace(
            first, phase=phase, party=None, speaker=seat, new_messages=first.history,
            previous=first.proposer, candidates=first.speakers[1:]))
        count += 1
    return count


def validate(game: Game) -> None:
    """What a run checks before it writes anything: the model column and every prompt."""
    check_models(game)
    render_all(game)


def notes(game: Game) -> list[str]:
    """Facts a game author should know that are not errors (chair without veto, …)."""
    out = list(game.warnings)
    scoring = game.scoring
    if not scoring.has_p1:
        out.append(f"no party is p1: {scoring.proposer.name} (first in config.txt) chairs the "
                   "talks, opening and closing without a veto")
    if not game.initial_deal_given:
        out.append(f"no initial_deal.txt: the opening deal is {scoring.proposer.name}'s best deal "
                   f"{game.initial_deal}")
    builder = PromptBuilder(game)
    for party in scoring.parties:
        if builder.incentive_template(party) is None:
            out.append(f"incentive {party.incentive!r} of {party.name} has no template "
                       f"incentives/{party.incentive}.j2: the party gets its brief only")
    return out


def _analysis_json(a: Analysis) -> dict[str, Any]:
    return {
        "acceptable": a.acceptable,
        "pareto": [str(d) for d in a.pareto],
        "welfare_deal": str(a.welfare_deal) if a.welfare_deal else None,
        "nash_deal": str(a.nash_deal) if a.nash_deal else None,
    }


def structured_turns(game: Game) -> dict[str, Any]:
    """The grammar and JSON Schema of each party turn as p1 gets them (``--structured``;
    another party's differ only where it has no plan left)."""
    party = game.scoring.proposer
    out: dict[str, Any] = {}
    for phase in PARTY_PHASES:
        schema = TurnSchema.for_observation(
            preview_observation(game, party, party.speakers[0], phase))
        if schema is not None:
            out[phase.value] = {"key": schema.key, "max_tokens": schema.max_tokens(),
                                "grammar": schema.gbnf(), "json_schema": schema.json_schema()}
    return out


def summary(game: Game) -> dict[str, Any]:
    """The ``check --json`` object."""
    scoring = game.scoring
    n = scoring.n_deals()
    result: dict[str, Any] = {
        "name": game.name,
        "path": str(scoring.path),
        "parties": [{"name": p.name, "role": p.role, "incentive": p.incentive,
                     "minimum": p.minimum, "model": p.model} for p in scoring.parties],
        "issues": [{"name": i.letter, "options": i.n_options} for i in scoring.issues],
        "initial_deal": str(game.initial_deal),
        "deals": n,
        "feasible": None,
        "unanimous": None,
        "analysis": None,
        "notes": notes(game),
        "roles": role_names(game),
        "structured": structured_turns(game),
    }
    if n > MAX_DEALS:
        result["analysis_message"] = f"{n:,} deals exceed the analysis limit of {MAX_DEALS:,}"
        return result
    loose, strict = analyse(scoring, DEFAULT_POLICY), analyse(scoring, STRICT)
    result["feasible"] = {">=": loose.feasible, ">": strict.feasible}
    result["unanimous"] = {">=": loose.unanimous, ">": strict.unanimous}
    result["analysis"] = {">=": _analysis_json(loose), ">": _analysis_json(strict)}
    return result


def render_text(s: dict[str, Any]) -> str:
    """A human-readable version of ``summary``."""
    lines = [f"game {s['name']} ({s['path']})",
             "issues: " + ", ".join(f"{i['name']} ({i['options']} options)" for i in s["issues"]),
             "parties:"]
    lines += [f"  {p['name']:<32} {p['role']:<7} {p['incentive']:<15} minimum {p['minimum']}"
              for p in s["parties"]]
    lines.append(f"initial deal: {s['initial_deal']}")
    lines.append(f"deals: {s['deals']:,}")
    if s["feasible"] is None:
        lines.append(f"analysis: not enumerated ({s['analysis_message']})")
    else:
        for cmp in (">=", ">"):
            f, u, d = s["feasible"][cmp], s["unanimous"][cmp], s["deals"]
            a = s["analysis"][cmp]
            lines.append(f"with {cmp:<2}: feasible {f} ({100 * f / d:.1f}%), unanimous {u}, "
                         f"Pareto-optimal feasible {len(a['pareto'])}, welfare deal "
                         f"{a['welfare_deal']}, Nash deal {a['nash_deal']}")
        lines.append("acceptable deals per party (>=): " + ", ".join(
            f"{k} {v}" for k, v in s["analysis"][">="]["acceptable"].items()))
    if s.get("roles"):
        lines.append("model roles (inspect --model-role): " + ", ".join(
            f"{role}={seat}" for role, seat in s["roles"].items()))
    lines += [f"note: {n}" for n in s["notes"]]
    return "\n".join(lines)
