"""Several representatives per party (config.txt's optional sixth field ``count=K``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from negotiation.core.errors import GameFormatError
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game
from negotiation.logs.reading import read_log as load_log
from negotiation.runs.setup import RunSettings
from tests.conftest import run_session, start_session


def _game_with(tmp_path: Path, counts: dict[str, str]) -> Path:
    folder = tmp_path / "reps"
    shutil.copytree(DEFAULT_GAMES_DIR / "base", folder)
    lines = (folder / "config.txt").read_text().splitlines()
    out = [ln + f",{counts[ln.split(',')[0].strip()]}" if ln.split(",")[0].strip() in counts
           else ln for ln in lines]
    (folder / "config.txt").write_text("\n".join(out) + "\n")
    return folder


def test_two_delegates_speak_separately_and_vote_once(tmp_path: Path) -> None:
    game = load_game(_game_with(tmp_path, {"Mayor": "count=2"}))
    assert game.scoring.party("Mayor").speakers == ("Mayor 1", "Mayor 2")
    assert len(game.scoring.speakers) == 7
    log, path = start_session(game, RunSettings(model="scripted:rational", seed=2), tmp_path)
    run_session(game, log, path)
    log = load_log(path)
    assert len(log.order) == 28 and {"Mayor 1", "Mayor 2"} <= set(log.order)
    assert "Mayor" not in log.order
    mayor_turns = [t for t in log.turns if t.party == "Mayor"]
    assert {t.speaker for t in mayor_turns if t.phase == "round"} == {"Mayor 1", "Mayor 2"}
    assert sum(1 for t in log.turns if t.phase == "vote" and t.party == "Mayor") == 1
    assert len([t for t in log.turns if t.phase == "vote"]) == 5
    first = next(t for t in log.turns if t.speaker == "Mayor 1" and t.phase == "round")
    assert "It is your turn to speak, Mayor 1." in first.prompt
    later = [t for t in log.turns if t.speaker == "Mayor 2" and t.phase == "round"]
    assert any("Mayor 1: " in t.prompt for t in later)
    mayor = next(p for p in log.parties if p.name == "Mayor")
    assert set(mayor.representatives) == {"Mayor 1", "Mayor 2"}
    prompt = mayor.representatives["Mayor 2"]
    assert "You are Mayor 2, one of 2 representatives of Mayor; your colleague is Mayor 1." in prompt
    assert '"Mayor" (represented by you and your colleague)' in prompt
    assert "the other 5 parties" in prompt
    assert log.scoring().party("Mayor 2").name == "Mayor"


def test_three_delegates_wording(tmp_path: Path) -> None:
    game = load_game(_game_with(tmp_path, {"SportCo": "count=3"}))
    from negotiation.protocol.prompting import PromptBuilder

    text = PromptBuilder(game).initial(game.scoring.party("SportCo"), "SportCo 2")
    assert "your 2 colleagues are SportCo 1 and SportCo 3" in text
    assert '"SportCo" (represented by you and your 2 colleagues)' in text
    log, path = start_session(game, RunSettings(model="scripted:rational", seed=1), tmp_path)
    run_session(game, log, path)
    log = load_log(path)
    assert log.turns[0].speaker == "SportCo 1" and log.turns[0].phase == "opening"
    assert log.status == "complete" and log.order[0] != "SportCo 1"


@pytest.mark.parametrize("field,message", [("count=0", "count=K"), ("count=x", "count=K"),
                                           ("count=6", "count=K"), ("size=2", "count=K")])
def test_bad_count(tmp_path: Path, field: str, message: str) -> None:
    with pytest.raises(GameFormatError, match=message) as err:
        load_game(_game_with(tmp_path, {"Mayor": field}))
    assert err.value.line == 4


def test_speaker_name_clash(tmp_path: Path) -> None:
    folder = _game_with(tmp_path, {"Mayor": "count=2"})
    text = (folder / "config.txt").read_text().replace("Other cities,", "Mayor 2,")
    (folder / "config.txt").write_text(text)
    with pytest.raises(GameFormatError, match="used twice"):
        load_game(folder)
