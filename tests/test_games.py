"""The shipped games: all load, the new ones have the intended size and difficulty, and the
briefs' "ideal option" sentences agree with the score sheets."""

from __future__ import annotations

import re

import pytest

from negotiation.core.deal_space import analyse
from negotiation.games.check import notes
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game, load_scoring, parse_scores
from negotiation.protocol.prompting import PromptBuilder
from tests.gamefactory import SHIPPED_GAMES

NEW_GAMES = ("hospital_merger", "oss_licence", "river_dam")
IDEAL = re.compile(r"Your ideal option for issue ([A-Z]) is ([A-Z])([0-9]+)\.")


def test_shipped_games_are_exactly_the_five() -> None:
    found = sorted(d.name for d in DEFAULT_GAMES_DIR.iterdir() if (d / "config.txt").is_file())
    assert found == sorted(SHIPPED_GAMES)


@pytest.mark.parametrize("name", SHIPPED_GAMES)
def test_shipped_game_loads_cleanly(name: str) -> None:
    game = load_game(DEFAULT_GAMES_DIR / name)
    assert game.name == name
    assert game.warnings == ()
    assert game.initial_deal_given
    assert game.scoring.has_p1 and len(game.scoring.vetoes) == 2
    assert notes(game) == []
    builder = PromptBuilder(game)
    for party in game.parties:
        text = builder.initial(party)
        assert f'"{party.name}" (represented by you)' in text
        assert "_NUM" not in text and "#threshold" not in text


@pytest.mark.parametrize("name", SHIPPED_GAMES)
def test_every_incentive_folder_of_shipped_games_loads(name: str) -> None:
    folder = DEFAULT_GAMES_DIR / name
    base = load_game(folder)
    loaded = 0
    for incentive_dir in sorted((folder / "individual_instructions").iterdir()):
        for party in base.parties:
            if (incentive_dir / f"{party.file_name}.txt").is_file():
                game = load_game(folder, {party.name: incentive_dir.name})
                assert game.scoring.party(party.name).incentive == incentive_dir.name
                loaded += 1
    assert loaded >= 2 * len(base.parties)  # at least cooperative and greedy for everyone


@pytest.mark.parametrize("name", NEW_GAMES)
def test_new_games_size_and_difficulty(name: str) -> None:
    scoring = load_scoring(DEFAULT_GAMES_DIR / name)
    assert 4 <= len(scoring.parties) <= 7
    assert 4 <= len(scoring.issues) <= 6
    a = analyse(scoring)
    assert 0.03 <= a.feasible / a.deals <= 0.15, a.feasible / a.deals
    assert a.unanimous >= 1
    assert a.welfare_deal is not None and a.nash_deal is not None


def _brief_files() -> list[tuple[str, str, str]]:
    out = []
    for game in SHIPPED_GAMES:
        for brief in sorted((DEFAULT_GAMES_DIR / game / "individual_instructions").glob("*/*.txt")):
            out.append((game, brief.parent.name, brief.stem))
    return out


@pytest.mark.parametrize(("game", "incentive", "file_name"), _brief_files())
def test_ideal_option_sentences_match_scores(game: str, incentive: str, file_name: str) -> None:
    folder = DEFAULT_GAMES_DIR / game
    text = (folder / "individual_instructions" / incentive / f"{file_name}.txt").read_text()
    rows, _ = parse_scores(folder / "scores_files" / f"{file_name}.txt")
    sentences = IDEAL.findall(text)
    assert sentences, "the brief states at least one ideal option"
    assert len({s[0] for s in sentences}) == len(sentences), "one sentence per issue"
    for issue, option_letter, number in sentences:
        assert option_letter == issue, f"issue {issue} names option {option_letter}{number}"
        index = ord(issue) - ord("A")
        assert index < len(rows), f"issue {issue} does not exist"
        row = rows[index]
        k = int(number)
        assert 1 <= k <= len(row), f"{issue}{k} does not exist"
        assert row[k - 1] == max(row), (f"{issue}{k} scores {row[k - 1]} but the best option "
                                        f"of issue {issue} scores {max(row)}")


def test_ideal_sentences_cover_all_shipped_briefs() -> None:
    files = _brief_files()
    assert len(files) >= 50
    assert {g for g, _, _ in files} == set(SHIPPED_GAMES)
