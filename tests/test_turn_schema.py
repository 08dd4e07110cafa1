"""The turn schema as backends compile it: its GBNF run through xgrammar's grammar matcher (the
engine the hf backend and vLLM use) on hand-written answers, and its JSON Schema through
``jsonschema``.

Games: ``base`` (6 parties, 5 issues, two vetoes), ``base_7parties`` and a generated 2-party
game without vetoes (2 issues of 2 and 3 options).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from negotiation.core.game import Deal, Game
from negotiation.core.phases import Phase
from negotiation.games.loader import load_game
from negotiation.protocol.prompting import preview_observation
from negotiation.protocol.seats import Observation
from negotiation.protocol.turn_schema import Bounds, TurnSchema
from tests.gamefactory import SHIPPED, PartySpec, write_game

xgr = pytest.importorskip("xgrammar", reason="needs: pip install xgrammar==0.2.9")

SP = "<SCRATCHPAD>I need D1 and a small A.</SCRATCHPAD>\n"
PLAN = "\n<PLAN>Push for E3 next.</PLAN>"


def accepts(gbnf: str, text: str) -> bool:
    """Whether the grammar (start rule ``root``) matches all of ``text``."""
    compiler = xgr.GrammarCompiler(xgr.TokenizerInfo([]), cache_enabled=False)
    matcher = xgr.GrammarMatcher(compiler.compile_grammar(gbnf, root_rule_name="root"),
                                 terminate_without_stop_token=True)
    return bool(matcher.accept_string(text)) and matcher.is_terminated()


def turn(message: str, deal: str | None = None, plan: bool = True, tail: str = "") -> str:
    body = message if deal is None else f"{message} <DEAL>{deal}</DEAL>{tail}"
    return f"{SP}<ANSWER>{body}</ANSWER>" + (PLAN if plan else "")


@pytest.fixture(scope="module")
def base() -> Game:
    return load_game(SHIPPED / "base")


@pytest.fixture(scope="module")
def seven() -> Game:
    return load_game(SHIPPED / "base_7parties")


@pytest.fixture(scope="module")
def duo(tmp_path_factory: pytest.TempPathFactory) -> Game:
    parties = [PartySpec("Ann", "ann", [[5, 0], [0, 5, 9]], 4, role="player"),
               PartySpec("Ben", "ben", [[0, 5], [9, 5, 0]], 4, role="player")]
    game = load_game(write_game(tmp_path_factory.mktemp("duo"), parties, initial_deal="A1,B1"))
    assert not game.scoring.vetoes
    return game


def observe(game: Game, phase: Phase, index: int = 1) -> Observation:
    party = game.scoring.parties[0 if phase in (Phase.OPENING, Phase.FINAL) else index]
    return preview_observation(game, party, party.name, phase)


def schema(game: Game, phase: Phase, **kwargs: object) -> TurnSchema:
    found = TurnSchema.for_observation(observe(game, phase), **kwargs)  # type: ignore[arg-type]
    assert found is not None
    return found


def moderator(game: Game) -> TurnSchema:
    obs = dataclasses.replace(observe(game, Phase.ROUND), phase=Phase.MODERATOR, party=None,
                              speaker="@moderator",
                              candidates=tuple(p.name for p in game.scoring.parties[1:]))
    found = TurnSchema.for_observation(obs)
    assert found is not None and found.kind == Phase.MODERATOR
    return found


def every_option_deal(game: Game) -> str:
    """The last option of every issue, e.g. ``A3,B3,C4,D4,E5``."""
    return ",".join(f"{i.letter}{i.n_options}" for i in game.scoring.issues)


# --- GBNF ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["base", "seven", "duo"])
def test_golden_party_turns_are_accepted(name: str, request: pytest.FixtureRequest) -> None:
    game: Game = request.getfixturevalue(name)
    deal = every_option_deal(game)
    first = str(game.initial_deal)
    opening, discussion = schema(game, Phase.OPENING), schema(game, Phase.ROUND)
    final = schema(game, Phase.FINAL)
    assert (opening.kind, discussion.kind, final.kind) == (Phase.OPENING, Phase.ROUND, Phase.FINAL)
    assert accepts(opening.gbnf(), turn("We start here.", first))
    assert accepts(opening.gbnf(), turn("We start here.", deal, tail=" (fair to all)"))
    assert accepts(discussion.gbnf(), turn("I can live with this.", deal))
    assert accepts(discussion.gbnf(), turn("Let us hear the others first."))
    assert accepts(final.gbnf(), turn("My final offer.", first, plan=False))


@pytest.mark.parametrize("name", ["base", "seven", "duo"])
def test_golden_votes_and_moderator_are_accepted(name: str,
                                                 request: pytest.FixtureRequest) -> None:
    game: Game = request.getfixturevalue(name)
    vote = schema(game, Phase.VOTE).gbnf()
    assert accepts(vote, "<VOTE>ACCEPT</VOTE>")
    assert accepts(vote, "<VOTE>REJECT</VOTE> It scores below my minimum.")
    assert not accepts(vote, "<VOTE>MAYBE</VOTE>")
    assert not accepts(vote, "<VOTE>ACCEPT</VOTE> <VOTE>REJECT</VOTE>")
    chooser = moderator(game).gbnf()
    assert accepts(chooser, game.scoring.parties[-1].name)
    assert not accepts(chooser, game.scoring.parties[0].name)  # not a candidate
    assert not accepts(chooser, "Nobody")


def test_bad_turns_are_rejected(base: Game) -> None:
    grammar = schema(base, Phase.ROUND).gbnf()
    assert accepts(grammar, turn("Fine.", "A3,B1,C4,D1,E5"))
    assert not accepts(grammar, turn("Fine.", "A4,B1,C4,D1,E5"))  # A has 3 options
    assert not accepts(grammar, turn("Two.", "A1,B1,C4,D1,E5", tail=" <DEAL>A2,B1,C4,D1,E5</DEAL>"))
    assert not accepts(grammar, turn("Short.", "A1,B1,C4,D1"))  # E is missing
    assert not accepts(grammar, turn("Extra.", "A1,B1,C4,D1,E5,F1"))
    assert not accepts(grammar, turn("Fine.", "A1,B1,C4,D1,E5").removesuffix("</PLAN>"))
    assert not accepts(grammar, turn("Fine.").replace("<ANSWER>", ""))
    assert not accepts(grammar, turn("3 < 4, so I object."))  # no tag inside the message
    assert not accepts(grammar, turn(" Leading space."))
    assert not accepts(grammar, turn("Fine.", "A1,B1,C4,D1,E5", plan=False))  # PLAN required
    opening = schema(base, Phase.OPENING).gbnf()
    assert not accepts(opening, turn("No deal yet."))  # the opening must propose
    final = schema(base, Phase.FINAL).gbnf()
    assert not accepts(final, turn("Final.", "A1,B1,C4,D1,E5"))  # no PLAN in the final


def test_bounds_are_enforced(duo: Game) -> None:
    grammar = schema(duo, Phase.ROUND, bounds=Bounds(scratchpad=10, public=12, plan=5)).gbnf()
    ok = "<SCRATCHPAD>0123456789</SCRATCHPAD>\n<ANSWER>0123456789ab</ANSWER>\n<PLAN>abcde</PLAN>"
    assert accepts(grammar, ok)
    assert not accepts(grammar, ok.replace("0123456789ab", "0123456789abc"))
    assert not accepts(grammar, ok.replace("abcde", "abcdef"))


def test_restricted_deal_space_accepts_exactly_its_deals(base: Game) -> None:
    allowed = [Deal.from_names(n.split(",")) for n in
               ("A1,B1,C4,D1,E5", "A1,B2,C4,D1,E5", "A2,B2,C3,D4,E1", "A3,B3,C1,D2,E2")]
    grammar = schema(base, Phase.ROUND, deals=allowed).gbnf()
    for deal in allowed:
        assert accepts(grammar, turn("This one.", str(deal)))
    for outside in ("A1,B3,C4,D1,E5", "A2,B2,C3,D4,E2", "A3,B3,C1,D2,E1", "A1,B1,C4,D1,E4"):
        assert not accepts(grammar, turn("That one.", outside))
    assert accepts(grammar, turn("No deal this time."))


# --- JSON Schema -----------------------------------------------------------------------------

def test_json_schema_validates_golden_answers_and_rejects_unknown_options(base: Game) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    discussion = schema(base, Phase.ROUND).json_schema()
    jsonschema.Draft202012Validator.check_schema(discussion)
    good = {"scratchpad": "I need D1.", "public": "How about this?", "plan": "Wait.",
            "deal": {"A": "A1", "B": "B2", "C": "C3", "D": "D4", "E": "E5"}}
    jsonschema.validate(good, discussion)
    jsonschema.validate({**good, "deal": None}, discussion)
    for bad in ({**good, "deal": {**good["deal"], "A": "A4"}},  # unknown option
                {**good, "deal": {k: v for k, v in good["deal"].items() if k != "E"}},
                {k: v for k, v in good.items() if k != "plan"},  # every field is required
                {**good, "mood": "happy"}):  # no other field
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, discussion)
    final = schema(base, Phase.FINAL).json_schema()
    assert "plan" not in final["properties"]
    with pytest.raises(jsonschema.ValidationError):  # the final proposal names a deal
        jsonschema.validate({"scratchpad": "", "public": "Final.", "deal": None}, final)
    vote = schema(base, Phase.VOTE).json_schema()
    jsonschema.validate({"vote": "REJECT", "reason": "Too low."}, vote)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"vote": "ABSTAIN", "reason": ""}, vote)


def test_json_schema_has_one_enum_per_issue_and_no_length_keywords(seven: Game) -> None:
    found = schema(seven, Phase.OPENING).json_schema()
    deal = found["properties"]["deal"]
    assert deal["required"] == [i.letter for i in seven.scoring.issues]
    for issue in seven.scoring.issues:
        assert deal["properties"][issue.letter]["enum"] == [
            f"{issue.letter}{k}" for k in range(1, issue.n_options + 1)]
    text = repr(found)
    assert not any(word in text for word in ("maxLength", "minLength", "pattern"))


def test_restricted_json_schema_lists_the_deals(duo: Game) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    allowed = [Deal.from_names(["A1", "B2"]), Deal.from_names(["A2", "B3"])]
    found = schema(duo, Phase.OPENING, deals=allowed).json_schema()
    answer = {"scratchpad": "", "public": "Here.", "plan": "", "deal": "A2,B3"}
    jsonschema.validate(answer, found)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**answer, "deal": "A1,B3"}, found)


def test_max_tokens_covers_the_longest_answer(base: Game) -> None:
    for phase in (Phase.OPENING, Phase.ROUND, Phase.FINAL, Phase.VOTE):
        found = schema(base, phase)
        assert found.max_tokens() >= 4 * found.max_chars()
    assert moderator(base).max_tokens() >= 4 * max(len(p.name) for p in base.scoring.parties)


def test_schema_key_separates_constraints(base: Game, tmp_path: Path) -> None:
    discussion, opening = schema(base, Phase.ROUND), schema(base, Phase.OPENING)
    assert discussion.key == schema(base, Phase.ROUND).key
    assert len({discussion.key, opening.key, schema(base, Phase.VOTE).key,
                schema(base, Phase.ROUND, bounds=Bounds(public=99)).key}) == 4


# --- reading a grammar-constrained answer ---------------------------------------------------

def test_read_tagged_takes_the_deal_from_its_tag_only(base: Game) -> None:
    """A constrained answer is read by the grammar's structure: options named in the prose
    (a copied "A: one of A1-A3") are not a deal and not a conflict; the tail is kept."""
    round_schema = schema(base, Phase.ROUND)
    text = turn("Options A: one of A1-A3 are open.", "A2,B3,C1,D4,E5", tail=" Thanks.")
    assert accepts(round_schema.gbnf(), text)
    action, problems = round_schema.read_tagged(text)  # type: ignore[misc]
    assert problems == [] and action.deal == Deal((2, 3, 1, 4, 5))
    assert action.public == "Options A: one of A1-A3 are open. <DEAL>A2,B3,C1,D4,E5</DEAL> Thanks."
    assert action.scratchpad == "I need D1 and a small A." and action.plan == "Push for E3 next."
    no_deal, _ = round_schema.read_tagged(turn("We could move on A1 or A3."))  # type: ignore[misc]
    assert no_deal.deal is None and no_deal.public == "We could move on A1 or A3."
    final = schema(base, Phase.FINAL)
    assert final.read_tagged(turn("Here it is.", "A1,B1,C1,D1,E1", plan=False)) is not None
    _, missing = final.read_tagged(turn("No deal.", plan=False))  # type: ignore[misc]
    assert missing == ["missing deal"]


def test_read_tagged_refuses_what_the_grammar_would_not_produce(base: Game) -> None:
    round_schema = schema(base, Phase.ROUND)
    for text in ("free text", turn("x", "A1,B1,C1,D1,E1").replace("</ANSWER>", ""),
                 "<ANSWER>only an answer</ANSWER>"):
        assert round_schema.read_tagged(text) is None
    vote = schema(base, Phase.VOTE)
    action, problems = vote.read_tagged("<VOTE>ACCEPT</VOTE> It clears my minimum.")  # type: ignore[misc]
    assert action.vote == "ACCEPT" and action.public == "It clears my minimum." and not problems
    assert vote.read_tagged("<VOTE>MAYBE</VOTE>") is None
    chair = moderator(base)
    assert chair.read_tagged(base.scoring.parties[1].name) is not None
    assert chair.read_tagged("Nobody") is None
