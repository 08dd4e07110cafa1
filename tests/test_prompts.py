"""Prompt tests: golden renders for each incentive of ``base``, wording that adapts to the game,
and the template sandbox (game templates are untrusted; game text is data, never code).

Regenerate the goldens with ``UPDATE_GOLDENS=1 python -m pytest tests/test_prompts.py`` and
review the diff of ``tests/golden/prompts/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from negotiation.core.errors import TemplateError
from negotiation.core.game import Game
from negotiation.core.rules import score
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game
from negotiation.protocol.prompting import PromptBuilder, make_environment, plural, render
from negotiation.protocol.seats import PublicMessage
from tests.gamefactory import PartySpec, n_party_specs, small_game, small_parties, write_game

GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "prompts"
BASE = DEFAULT_GAMES_DIR / "base"


def assert_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``golden/prompts/<name>.txt``; ``UPDATE_GOLDENS=1`` rewrites it."""
    path = GOLDEN_DIR / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDENS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.is_file(), f"no golden {path}: run with UPDATE_GOLDENS=1 and review it"
    assert text == path.read_bytes().decode("utf-8"), f"prompt differs from golden {path}"


def said(speaker: str, text: str) -> PublicMessage:
    """A public message as prompts show it (only speaker and text are rendered)."""
    return PublicMessage(0, speaker, speaker, text, None)


def history(name: str) -> list[PublicMessage]:
    """A fixed 2-entry history: SportCo's opening and one message by the party itself."""
    return [
        said("SportCo", "Let us start from <DEAL>A1,B1,C4,D1,E5</DEAL>."),
        said(name, "I could live with a mixed complex if the loan stays. "
                           "<DEAL>A2,B2,C2,D1,E4</DEAL>"),
    ]


PLAN = "Push for D1; concede on E if the League insists."

# golden name -> (party, incentive overrides)
GOLDEN_CASES = {
    "base_mayor_cooperative": ("Mayor", None),
    "base_mayor_greedy": ("Mayor", {"Mayor": "greedy"}),
    "base_environment_untargeted_adv": ("Environmental League",
                                        {"Environmental League": "untargeted_adv"}),
    "base_environment_targeted_adv": ("Environmental League",
                                      {"Environmental League": "targeted_adv"}),
}


@pytest.mark.parametrize("case", list(GOLDEN_CASES))
def test_golden_initial_and_round(case: str) -> None:
    name, overrides = GOLDEN_CASES[case]
    game = load_game(BASE, overrides)
    party = game.scoring.party(name)
    builder = PromptBuilder(game)
    initial = builder.initial(party)
    round_prompt = builder.round(party, history(name), PLAN, final_turn=False)
    assert_golden(f"{case}_initial", initial)
    assert_golden(f"{case}_round", round_prompt)
    # what the goldens must show, independent of their exact wording
    assert f'"{name}" (represented by you)' in initial
    assert f"You ({name}): I could live with a mixed complex" in round_prompt
    assert "SportCo: Let us start from <DEAL>A1,B1,C4,D1,E5</DEAL>." in round_prompt
    assert PLAN in round_prompt
    assert "<PLAN>" in round_prompt


def test_golden_prompts_differ_per_incentive() -> None:
    texts = {case: (GOLDEN_DIR / f"{case}_initial.txt").read_text() for case in GOLDEN_CASES}
    assert len(set(texts.values())) == len(texts)
    assert "You want the talks to succeed." in texts["base_mayor_cooperative"]
    assert "as many points as you can" in texts["base_mayor_greedy"]
    assert "would rather see the talks fail" in texts["base_environment_untargeted_adv"]
    targeted = texts["base_environment_targeted_adv"]
    assert "work to isolate Local Labour Union" in targeted
    assert "isolate" not in texts["base_environment_untargeted_adv"]


def test_round_scratchpad_follows_incentive() -> None:
    greedy = load_game(BASE, {"Mayor": "greedy"})
    text = PromptBuilder(greedy).round(greedy.scoring.party("Mayor"), [], "", final_turn=False)
    assert "Find the options that raise your score most" in text
    targeted = load_game(BASE, {"Environmental League": "targeted_adv"})
    env = targeted.scoring.party("Environmental League")
    text = PromptBuilder(targeted).round(env, [], "", final_turn=False)
    assert "judge how each one treats Local Labour Union" in text


def test_final_turn_adds_note_and_drops_plan_line() -> None:
    game = load_game(BASE)
    mayor = game.scoring.party("Mayor")
    builder = PromptBuilder(game)
    normal = builder.round(mayor, history("Mayor"), PLAN, final_turn=False)
    final = builder.round(mayor, history("Mayor"), PLAN, final_turn=True)
    assert_golden("base_mayor_cooperative_round_final", final)
    note = (" This is your final discussion turn: you will not speak again before SportCo's "
            "final proposal.")
    plan_lines = ("- PLAN: short private notes for your next turn.\n", "<PLAN>…</PLAN>\n")
    assert note in final and note not in normal
    assert "<PLAN>" not in final and all(line in normal for line in plan_lines)
    assert final.replace(note, "") == normal.replace(plan_lines[0], "").replace(plan_lines[1], "")


def test_round_without_history_or_plan() -> None:
    game = load_game(BASE)
    text = PromptBuilder(game).round(game.scoring.party("Mayor"), [], "  ", final_turn=False)
    assert text.startswith("No public messages have been exchanged yet.")
    assert "private plan" not in text
    assert "<DEAL>A?,B?,C?,D?,E?</DEAL>" in text  # the format's slots list every issue
    assert "E: one of E1-E5" in text


def test_plural() -> None:
    assert plural(1, "party", "parties") == "1 party"
    assert plural(5, "party", "parties") == "5 parties"
    assert plural(0, "issue") == "0 issues"


def test_two_party_wording(tmp_path: Path) -> None:
    specs = [PartySpec("Buyer", "buyer", [[9, 4, 0], [5, 0]], 9, role="p1"),
             PartySpec("Seller", "seller", [[0, 4, 9], [0, 5]], 9)]
    game = load_game(write_game(tmp_path, specs))
    text = PromptBuilder(game).initial(game.scoring.party("Seller"))
    assert "a negotiation between 2 parties." in text
    assert "You are negotiating with the other 1 party: Buyer." in text
    assert "1 parties" not in text
    assert "at least 1 party out of 2" in text
    assert "Buyer must be among them (it holds a veto)" in text
    opening = PromptBuilder(game).opening(game.scoring.party("Buyer"))
    assert "to the other 1 party:" in opening


def test_six_party_wording_with_vetoes() -> None:
    game = load_game(BASE)
    text = PromptBuilder(game).initial(game.scoring.party("Mayor"))
    assert "a negotiation between 6 parties." in text
    assert ("You are negotiating with the other 5 parties: SportCo, Department of Tourism, "
            "Environmental League, Other cities, Local Labour Union.") in text
    assert ("A deal passes if at least 5 parties out of 6 accept it, and SportCo and "
            "Department of Tourism must be among them (they hold vetoes).") in text
    assert "each of the 5 issues (A, B, C, D, E)" in text


def test_six_party_game_without_vetoes(tmp_path: Path) -> None:
    game = load_game(write_game(tmp_path, n_party_specs(6)))
    text = PromptBuilder(game).initial(game.parties[3])
    assert "the other 5 parties" in text
    assert ("A deal passes if at least 5 parties out of 6 accept it. Nobody holds a veto; "
            "Party 1 only chairs the talks.") in text
    assert "must be among them" not in text
    assert "bonus" not in PromptBuilder(game).initial(game.parties[0])


def test_one_issue_wording(tmp_path: Path) -> None:
    specs = [PartySpec(n, n.lower(), [[5, 0, 3]], 3, role=r)
             for n, r in (("Ann", "p1"), ("Bob", "player"), ("Cy", "player"))]
    game = load_game(write_game(tmp_path, specs, initial_deal="A3"))
    text = PromptBuilder(game).initial(game.parties[1])
    assert "each of the 1 issue (A)" in text


def test_only_p1_gets_the_bonus_line() -> None:
    game = load_game(BASE)
    builder = PromptBuilder(game)
    bonus = "you earn a bonus of 10 points on top of your score"
    assert bonus in builder.initial(game.scoring.party("SportCo"))
    for party in game.parties[1:]:
        assert "bonus" not in builder.initial(party), party.name


def test_briefs_placeholders_filled_for_every_brief_of_base() -> None:
    checked = 0
    for folder in sorted((BASE / "individual_instructions").iterdir()):
        incentive = folder.name
        for brief in sorted(folder.glob("*.txt")):
            game = load_game(BASE)
            name = next(p.name for p in game.parties if p.file_name == brief.stem)
            game = load_game(BASE, {name: incentive})
            party = game.scoring.party(name)
            text = PromptBuilder(game).initial(party)
            assert "_NUM" not in text and "#threshold" not in text, (incentive, name)
            assert f"less than {party.minimum} points for you" in text, (incentive, name)
            checked += 1
    assert checked == 14  # 6 cooperative + 6 greedy + 2 adversarial briefs
    mayor_text = PromptBuilder(load_game(BASE)).initial(load_game(BASE).scoring.party("Mayor"))
    assert "D1 40, D2 30, D3 23, D4 0 (best 40)" in mayor_text
    assert "E1 0, E2 2, E3 4, E4 7, E5 10 (best 10)" in mayor_text


def test_other_turn_prompts() -> None:
    game = load_game(BASE)
    builder = PromptBuilder(game)
    sportco, mayor = game.scoring.party("SportCo"), game.scoring.party("Mayor")
    opening = builder.opening(sportco)
    assert "the deal A1,B1,C4,D1,E5" in opening and "ending with it in a DEAL tag" in opening
    final = builder.final(sportco, history("Mayor"), PLAN)
    assert "You (SportCo): Let us start from <DEAL>A1,B1,C4,D1,E5</DEAL>." in final
    assert "\nMayor: I could live with a mixed complex" in final
    assert f"Your private plan from your previous turn: {PLAN}" in final
    assert "at least 55 points" in final
    assert "(at least 5, including SportCo and Department of Tourism)" in final
    own = score(game.initial_deal, mayor)
    vote = builder.vote(mayor, str(game.initial_deal), own)
    assert f"this deal is worth {own} points; your minimum acceptable score is 30." in vote
    assert "SportCo has made the final proposal: A1,B1,C4,D1,E5." in vote


@pytest.mark.parametrize("structured", ["off", "grammar", "json"])
def test_no_prompt_shows_a_deal_or_prose_a_model_could_copy(structured: str) -> None:
    from negotiation.core.phases import PARTY_PHASES
    from negotiation.protocol.parsing import mentioned_options
    from negotiation.protocol.prompting import preview_observation

    game = load_game(BASE)
    builder = PromptBuilder(game)
    for party in game.parties:
        for phase in PARTY_PHASES:
            obs = preview_observation(game, party, party.name, phase)
            text = builder.user_message(obs, structured)
            instructions = text.split("\n\n")[-1]  # the format paragraph ends every prompt
            for placeholder in ("your private reasoning", "your public message", "short private"):
                assert f">{placeholder}" not in text, (party.name, phase)
            if phase.value != "opening":  # the opening presents the game's opening deal
                assert "<DEAL>A1" not in instructions and "A1,B" not in instructions
            assert len(mentioned_options(instructions, game.issues)) <= 21  # option lists only


# ---------------------------------------------------------------------------- sandbox


def _game_with_template(tmp_path: Path, template: str, name: str = "initial.j2") -> Game:
    return load_game(small_game(tmp_path, extra_files={f"prompts/{name}": template}))


def test_game_template_overrides_library(tmp_path: Path) -> None:
    game = _game_with_template(tmp_path, "Hello {{ me.name }}, {{ n_others }} others.",
                               "round.j2")
    text = PromptBuilder(game).round(game.parties[2], [], "", final_turn=False)
    assert text == "Hello Gamma Group, 2 others.\n"
    assert "negotiation between 3 parties" in PromptBuilder(game).initial(game.parties[2])


def test_undefined_variable_is_template_error_naming_template(tmp_path: Path) -> None:
    game = _game_with_template(tmp_path, "Hi {{ me.name }} {{ secret_plan }}")
    with pytest.raises(TemplateError) as info:
        PromptBuilder(game).initial(game.parties[0])
    assert "initial.j2" in str(info.value) and "secret_plan" in str(info.value)


def test_syntax_error_is_template_error(tmp_path: Path) -> None:
    game = _game_with_template(tmp_path, "{% for x in %}")
    with pytest.raises(TemplateError, match="initial.j2"):
        PromptBuilder(game).initial(game.parties[0])


def test_missing_include_is_template_error(tmp_path: Path) -> None:
    game = _game_with_template(tmp_path, "{% include 'nowhere/x.j2' %}")
    with pytest.raises(TemplateError, match="nowhere/x.j2"):
        PromptBuilder(game).initial(game.parties[0])


@pytest.mark.parametrize("attack", [
    "{{ me.__class__.__mro__ }}",
    "{{ ''.__class__.__subclasses__() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ '{0.__class__.__mro__}'.format(me) }}",
    "{{ others.__class__ }}",
    "{{ plural.__globals__ }}",
    "{{ plural.__code__ }}",
])
def test_sandbox_blocks_python_internals(tmp_path: Path, attack: str) -> None:
    game = _game_with_template(tmp_path, "before " + attack + " after")
    with pytest.raises(TemplateError) as info:
        PromptBuilder(game).initial(game.parties[0])
    message = str(info.value)
    assert "sandbox" in message or "undefined" in message
    assert "<class" not in message and "object at 0x" not in message


def test_sandbox_range_limit_is_template_error(tmp_path: Path) -> None:
    game = _game_with_template(tmp_path, "{{ range(10**6)|list|length }}")
    with pytest.raises(TemplateError):
        PromptBuilder(game).initial(game.parties[0])


def test_undefined_variable_in_included_template_names_it(tmp_path: Path) -> None:
    specs = small_parties()
    specs[2].incentive = "altruistic"
    game = load_game(write_game(tmp_path, specs, extra_files={
        "prompts/incentives/altruistic.j2": "Be kind to {{ best_friend }}."}))
    with pytest.raises(TemplateError) as info:
        PromptBuilder(game).initial(game.parties[2])
    assert "incentives/altruistic.j2" in str(info.value)


def test_render_wraps_errors_directly() -> None:
    env = make_environment(None)
    with pytest.raises(TemplateError, match="not found"):
        render(env, "no_such_template.j2", {})
    with pytest.raises(TemplateError, match="undefined"):
        render(env, "vote.j2", {})


def test_game_text_is_data_never_code(tmp_path: Path) -> None:
    specs = small_parties()
    specs[0].brief = "Brief {{ 7*7 }} {% if true %}x{% endif %} #A1_NUM\n"
    glob = ('Talks between "Alpha Corp", "Beta Board" and "Gamma Group". '
            "{{ 7*7 }} {{ me.__class__ }} {% include 'round.j2' %}\n")
    game = load_game(write_game(tmp_path, specs, global_text=glob))
    builder = PromptBuilder(game)
    text = builder.initial(game.parties[0])
    assert "{{ 7*7 }} {{ me.__class__ }} {% include 'round.j2' %}" in text
    assert "Brief {{ 7*7 }} {% if true %}x{% endif %} 10" in text
    assert "49" not in text
    round_text = builder.round(game.parties[0], [said("Beta Board", "{{ 7*7 }}")],
                               "{{ me }}", final_turn=False)
    assert "Beta Board: {{ 7*7 }}" in round_text and "plan from your previous turn: {{ me }}" \
        in round_text
    assert "49" not in round_text
