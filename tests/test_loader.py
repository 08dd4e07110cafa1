"""Loader tests: malformed game folders, the quirks that must still load, and property tests.

Every malformed folder must give one ``GameFormatError`` whose message reads
``PATH[:LINE]: …`` and names the offending file (and line where there is one).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation.core.errors import GameFormatError
from negotiation.core.game import Deal, Game
from negotiation.core.rules import agreement, parse_deal
from negotiation.games.check import notes
from negotiation.games.loader import (
    DEFAULT_GAMES_DIR,
    fill_brief,
    load_game,
    load_scoring,
    parse_config,
    parse_scores,
    resolve_game_path,
)
from negotiation.protocol.prompting import PromptBuilder
from tests.gamefactory import (
    PartySpec,
    copy_shipped,
    n_party_specs,
    small_game,
    small_parties,
    write_game,
)

# --------------------------------------------------------------------------------------------
# Malformed folders: (id, mutation, offending file relative to the game folder, line, fragment)
# --------------------------------------------------------------------------------------------


def _rm(rel: str) -> Callable[[Path], None]:
    return lambda folder: (folder / rel).unlink()


def _write(rel: str, text: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return mutate


def _replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        text = (folder / rel).read_text(encoding="utf-8")
        assert old in text, f"test setup: {old!r} not in {rel}"
        (folder / rel).write_text(text.replace(old, new), encoding="utf-8")
    return mutate


CFG = "config.txt"
GAMMA_LINE = "Gamma Group,gamma,player,cooperative,default"
GAMMA_BRIEF = "individual_instructions/cooperative/gamma.txt"

MALFORMED: list[tuple[str, Callable[[Path], None], str, int | None, str]] = [
    ("missing-config", _rm(CFG), CFG, None, "missing"),
    ("missing-scores", _rm("scores_files/beta.txt"), "scores_files/beta.txt", None, "missing"),
    ("missing-global", _rm("global_instructions.txt"), "global_instructions.txt", None,
     "missing"),
    ("missing-brief", _rm(GAMMA_BRIEF), GAMMA_BRIEF, None, "missing"),
    ("unknown-role", _replace(CFG, "gamma,player", "gamma,boss"), CFG, 3, "unknown role 'boss'"),
    ("two-p1", _replace(CFG, "beta,p2", "beta,p1"), CFG, 2, "'p1'"),
    ("unknown-incentive-folder", _replace(CFG, "gamma,player,cooperative", "gamma,player,altru"),
     CFG, 3, "individual_instructions/altru/"),
    ("duplicate-name", _replace(CFG, "Gamma Group,", "Beta Board,"), CFG, 3,
     "duplicate party name 'Beta Board'"),
    ("wrong-field-count", _replace(CFG, GAMMA_LINE, "Gamma Group,gamma,player"), CFG, 3,
     "5 comma-separated fields"),
    ("non-integer-score", _write("scores_files/beta.txt", "0,6,12\n0,nine\n12\n"),
     "scores_files/beta.txt", 2, "'nine' is not an integer"),
    ("float-score", _write("scores_files/alpha.txt", "10,5.5,0\n8,0\n10\n"),
     "scores_files/alpha.txt", 1, "not an integer"),
    ("row-length-last-party", _write("scores_files/gamma.txt", "4,8,2,1\n7,3\n9\n"),
     "scores_files/gamma.txt", None, "differs"),
    ("row-length-first-party", _write("scores_files/alpha.txt", "10,5,0\n8,0,3\n10\n"),
     "scores_files/alpha.txt", None, "differs"),
    ("extra-issue-row", _write("scores_files/beta.txt", "0,6,12\n0,9\n1,2\n12\n"),
     "scores_files/beta.txt", None, "differs"),
    ("missing-threshold", _write("scores_files/gamma.txt", "4,8,2\n7,3\n"),
     "scores_files/gamma.txt", 2, "minimum-score line"),
    ("one-option-issue", _write("scores_files/gamma.txt", "4,8,2\n7\n3\n"),
     "scores_files/gamma.txt", 2, "2-9 options"),
    ("placeholder-unknown-issue", _write(GAMMA_BRIEF, 'You are "Gamma Group".\n\nF: #F1_NUM\n'),
     GAMMA_BRIEF, 3, "#F1_NUM"),
    ("placeholder-unknown-max", _write(GAMMA_BRIEF, "x\n#Z_MAX_NUM\n"), GAMMA_BRIEF, 2,
     "#Z_MAX_NUM"),
    ("placeholder-option-out-of-range",
     _write(GAMMA_BRIEF, "one\ntwo\nthree #A1_NUM and #A9_NUM\n"), GAMMA_BRIEF, 3,
     "issue A has 3 options"),
    ("placeholder-option-zero", _write(GAMMA_BRIEF, "#A0_NUM\n"), GAMMA_BRIEF, 1, "#A0_NUM"),
    ("initial-deal-unknown-option", _write("initial_deal.txt", "A4,B1\n"), "initial_deal.txt",
     1, "A4"),
    ("initial-deal-missing-issue", _write("initial_deal.txt", "A1\n"), "initial_deal.txt", 1,
     "misses issue(s) B"),
    ("initial-deal-empty", _write("initial_deal.txt", "\n"), "initial_deal.txt", 1, "empty"),
    ("empty-config", _write(CFG, ""), CFG, None, "empty"),
    ("blank-config", _write(CFG, "\n  \n\n"), CFG, None, "empty"),
    ("one-party", _write(CFG, "Alpha Corp,alpha,p1,cooperative,default\n"), CFG, None,
     "2-15 parties"),
    ("file-name-slash", _replace(CFG, "gamma,player", "sub/gamma,player"), CFG, 3,
     "no path separator"),
    ("file-name-dotdot", _replace(CFG, "gamma,player", "../gamma,player"), CFG, 3,
     "no path separator"),
    ("file-name-backslash", _replace(CFG, "gamma,player", "..\\gamma,player"), CFG, 3,
     "no path separator"),
    ("file-name-absolute", _replace(CFG, "gamma,player", "/etc/passwd,player"), CFG, 3,
     "no path separator"),
    ("incentive-dotdot", _replace(CFG, "gamma,player,cooperative", "gamma,player,../x"), CFG,
     3, "not a plain name"),
    ("targeted-adv-without-target",
     _replace(CFG, "gamma,player,cooperative", "gamma,player,targeted_adv"), CFG, 3,
     "no party has the role 'target'"),
    ("invalid-utf8", lambda f: (f / "scores_files/beta.txt").write_bytes(b"0,6,\xff\n0,9\n1\n"),
     "scores_files/beta.txt", None, "UTF-8"),
]


@pytest.mark.parametrize(("mutate", "rel", "line", "fragment"),
                         [pytest.param(*case[1:], id=case[0]) for case in MALFORMED])
def test_malformed_folder_names_file_and_line(tmp_path: Path, mutate: Callable[[Path], None],
                                              rel: str, line: int | None, fragment: str) -> None:
    folder = small_game(tmp_path)
    load_game(folder)  # the unmutated folder is valid
    mutate(folder)
    with pytest.raises(GameFormatError) as info:
        load_game(folder)
    err = info.value
    expected = folder / rel
    assert err.path == expected
    assert err.line == line
    where = f"{expected}:{line}" if line is not None else str(expected)
    assert str(err).startswith(where + ": "), str(err)
    assert fragment in str(err)


def test_row_length_blames_the_minority_file_and_lists_it(tmp_path: Path) -> None:
    # alpha, beta, eps: 3x2 sheets (the majority); gamma and delta: 4x2 sheets
    specs = small_parties()
    specs[2] = PartySpec("Gamma Group", "gamma", [[1, 2, 3, 4], [1, 2]], 1)
    specs += [PartySpec("Delta", "delta", [[1, 2, 3, 4], [1, 2]], 1),
              PartySpec("Eps", "eps", [[0, 0, 1], [1, 0]], 0)]
    folder = write_game(tmp_path, specs)
    with pytest.raises(GameFormatError) as info:
        load_scoring(folder)
    assert info.value.path == folder / "scores_files" / "gamma.txt"
    assert "scores_files/gamma.txt" in str(info.value)
    assert "scores_files/delta.txt" in str(info.value)
    assert "alpha.txt" not in str(info.value)


def test_name_absent_from_global_instructions_is_a_warning(tmp_path: Path) -> None:
    specs = small_parties()
    folder = write_game(tmp_path, specs,
                        global_text='Talks between "Alpha Corp" and "Beta Board".\n')
    game = load_game(folder)
    assert len(game.warnings) == 1
    warning = game.warnings[0]
    assert "Gamma Group" in warning and "global_instructions.txt" in warning
    assert any("Gamma Group" in n for n in notes(game))


def test_all_names_quoted_gives_no_warning(tmp_path: Path) -> None:
    assert load_game(small_game(tmp_path)).warnings == ()


# --------------------------------------------------------------------------------------------
# Quirks that must load
# --------------------------------------------------------------------------------------------


def test_misspelled_extra_files_are_ignored(tmp_path: Path) -> None:
    reference = load_game(copy_shipped(tmp_path, "base", "ref"))
    folder = copy_shipped(tmp_path, "base")
    for rel in ("individual_instructions/cooperative/enviroment.txt",
                "scores_files/enviroment.txt", "enviroment.txt", "config.txt.bak",
                "individual_instructions/cooperatve/mayor.txt"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("garbage, not, a, game file #Z9_NUM\n")
    game = load_game(folder)
    assert game.briefs == reference.briefs
    assert game.scoring.issues == reference.scoring.issues
    assert [p.scores for p in game.parties] == [p.scores for p in reference.parties]


@pytest.mark.parametrize("config_suffix", ["\n", "\n\n", "\n   \n\t\n"])
def test_trailing_blank_lines_in_config(tmp_path: Path, config_suffix: str) -> None:
    folder = small_game(tmp_path)
    text = (folder / "config.txt").read_text()
    (folder / "config.txt").write_text(text + config_suffix)
    assert [p.name for p in load_game(folder).parties] == ["Alpha Corp", "Beta Board",
                                                          "Gamma Group"]


def test_last_lines_without_newline(tmp_path: Path) -> None:
    folder = small_game(tmp_path)
    for rel in ("config.txt", "scores_files/alpha.txt", "initial_deal.txt",
                "individual_instructions/cooperative/alpha.txt"):
        path = folder / rel
        path.write_text(path.read_text().rstrip("\n"))
    game = load_game(folder)
    assert len(game.parties) == 3
    assert game.parties[0].minimum == 10
    assert game.initial_deal == Deal((1, 1))


def test_trailing_spaces_after_numbers_and_crlf(tmp_path: Path) -> None:
    folder = small_game(tmp_path)
    (folder / "scores_files" / "alpha.txt").write_text("10 , 5 ,0 \r\n 8,0  \r\n30 \r\n\r\n")
    (folder / "config.txt").write_bytes((folder / "config.txt").read_bytes()
                                        .replace(b"\n", b"\r\n"))
    game = load_game(folder)
    alpha = game.scoring.party("Alpha Corp")
    assert alpha.scores == ((10, 5, 0), (8, 0))
    assert alpha.minimum == 30
    assert "less than 30 points" in game.briefs["Alpha Corp"]


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    folder = small_game(tmp_path)
    path = folder / "config.txt"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_game(folder).parties[0].name == "Alpha Corp"


def test_no_initial_deal_uses_proposer_best_deal_lowest_on_ties(tmp_path: Path) -> None:
    specs = [
        PartySpec("Chair", "chair", [[0, 7, 7], [2, 2], [1, 9, 9, 3]], 5, role="p1"),
        PartySpec("Other", "other", [[9, 0, 0], [0, 9], [0, 0, 0, 9]], 5),
        PartySpec("Third", "third", [[9, 0, 0], [0, 9], [0, 0, 0, 9]], 5),
    ]
    folder = write_game(tmp_path, specs, initial_deal=None)
    game = load_game(folder)
    assert game.initial_deal == Deal((2, 1, 2))
    assert game.initial_deal_given is False
    assert any("no initial_deal.txt" in n and "A2,B1,C2" in n and "Chair" in n
               for n in notes(game))


def test_initial_deal_given_has_no_note(tmp_path: Path) -> None:
    game = load_game(small_game(tmp_path, initial_deal="b2 , a3"))
    assert game.initial_deal == Deal((3, 2)) and game.initial_deal_given
    assert not any("initial_deal" in n for n in notes(game))


def test_four_parties_without_p1_or_p2(tmp_path: Path) -> None:
    # one issue; party i accepts option k when k's score >= its minimum of 5
    accept_table = {  # option -> accepting parties (0-based)
        1: {0, 1, 2, 3}, 2: {1, 2, 3}, 3: {0, 1, 2}, 4: {0, 1}, 5: set(),
    }
    specs = [PartySpec(f"Party {j}", f"party{j}",
                       [[5 if j in accept_table[k] else 0 for k in range(1, 6)]], 5)
             for j in range(4)]
    folder = write_game(tmp_path, specs, initial_deal=None)
    game = load_game(folder)
    scoring = game.scoring
    assert not scoring.has_p1 and scoring.vetoes == ()
    assert scoring.proposer.name == "Party 0"
    assert any("no party is p1" in n and "Party 0" in n for n in notes(game))
    outcomes = {k: agreement(Deal((k,)), scoring) for k in accept_table}
    assert outcomes[1].passes and outcomes[1].unanimous
    assert outcomes[2].passes and not outcomes[2].unanimous  # the chair's rejection is no veto
    assert outcomes[3].passes
    assert not outcomes[4].passes  # 2 of 4 < N-1
    assert not outcomes[5].passes


def test_two_party_game(tmp_path: Path) -> None:
    specs = [PartySpec("Buyer", "buyer", [[9, 4, 0], [5, 0]], 9, role="p1"),
             PartySpec("Seller", "seller", [[0, 4, 9], [0, 5]], 9)]
    game = load_game(write_game(tmp_path, specs))
    assert [p.name for p in game.parties] == ["Buyer", "Seller"]
    assert game.scoring.n_deals() == 6
    assert game.scoring.vetoes == (game.parties[0],)


def test_placeholders_filled_including_threshold(tmp_path: Path) -> None:
    game = load_game(small_game(tmp_path))
    brief = game.briefs["Beta Board"]
    assert "A1 0, A2 6, A3 12 (best 12)" in brief
    assert "B1 0, B2 9 (best 9)" in brief
    assert "less than 12 points" in brief
    assert "#" not in brief


def test_fill_brief_leaves_non_placeholders_alone(tmp_path: Path) -> None:
    scoring = load_scoring(small_game(tmp_path))
    alpha = scoring.parties[0]
    text = "#A1_NUMS #a1_NUM #thresholds # A1_NUM #A1_NUM #A01_NUM #B_MAX_NUM #threshold"
    out = fill_brief(text, Path("x.txt"), alpha, scoring.issues)
    assert out == "#A1_NUMS #a1_NUM #thresholds # A1_NUM 10 10 8 10"


def test_custom_incentive_folder_without_template_loads_with_note(tmp_path: Path) -> None:
    specs = small_parties()
    specs[2].incentive = "altruistic"
    game = load_game(write_game(tmp_path, specs))
    gamma = game.scoring.party("Gamma Group")
    assert gamma.incentive == "altruistic"
    assert game.briefs["Gamma Group"].startswith('You represent "Gamma Group"')
    assert any("'altruistic'" in n and "Gamma Group" in n and "no template" in n
               for n in notes(game))
    prompt = PromptBuilder(game).initial(gamma)
    assert "Your attitude in these talks" not in prompt
    assert "less than 9 points" in prompt


def test_custom_incentive_with_game_template_appears_in_prompt(tmp_path: Path) -> None:
    specs = small_parties()
    specs[2].incentive = "altruistic"
    text = "You care most about {{ others|join(' and ') }} getting a fair share."
    folder = write_game(tmp_path, specs,
                        extra_files={"prompts/incentives/altruistic.j2": text})
    game = load_game(folder)
    assert not any("no template" in n for n in notes(game))
    gamma = game.scoring.party("Gamma Group")
    prompt = PromptBuilder(game).initial(gamma)
    assert "=== Your attitude in these talks ===" in prompt
    assert "You care most about Alpha Corp and Beta Board getting a fair share." in prompt
    # the other parties keep the library's cooperative text
    alpha_prompt = PromptBuilder(game).initial(game.parties[0])
    assert "You want the talks to succeed." in alpha_prompt
    assert "fair share" not in alpha_prompt


def test_incentive_override(tmp_path: Path) -> None:
    base = DEFAULT_GAMES_DIR / "base"
    game = load_game(base, {"Mayor": "greedy", "Environmental League": "targeted_adv"})
    assert game.scoring.party("Mayor").incentive == "greedy"
    assert game.scoring.party("SportCo").incentive == "cooperative"
    greedy = (base / "individual_instructions/greedy/mayor.txt").read_text()
    coop = (base / "individual_instructions/cooperative/mayor.txt").read_text()
    assert greedy != coop
    assert game.briefs["Mayor"].split("\n")[0] == greedy.split("\n")[0]
    assert game.briefs["Environmental League"] != load_game(base).briefs["Environmental League"]
    with pytest.raises(GameFormatError, match="no party named 'Nobody'"):
        load_game(base, {"Nobody": "greedy"})
    with pytest.raises(GameFormatError, match="individual_instructions/targeted_adv/"):
        load_game(base, {"Mayor": "targeted_adv"})  # no brief folder entry for the mayor


def test_load_scoring_needs_only_config_and_scores(tmp_path: Path) -> None:
    folder = small_game(tmp_path)
    for rel in ("global_instructions.txt", "initial_deal.txt"):
        (folder / rel).unlink()
    for p in (folder / "individual_instructions").rglob("*.txt"):
        p.unlink()
    scoring = load_scoring(folder)
    assert [i.n_options for i in scoring.issues] == [3, 2]
    assert scoring.name == "small"


def test_parse_config_and_scores_directly(tmp_path: Path) -> None:
    folder = small_game(tmp_path)
    lines = parse_config(folder / "config.txt")
    assert [(c.name, c.file_name, c.role, c.line) for c in lines] == [
        ("Alpha Corp", "alpha", "p1", 1), ("Beta Board", "beta", "p2", 2),
        ("Gamma Group", "gamma", "player", 3)]
    rows, minimum = parse_scores(folder / "scores_files" / "gamma.txt")
    assert rows == ((4, 8, 2), (7, 3)) and minimum == 9


def test_config_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    folder = small_game(tmp_path)
    (folder / "config.txt").write_text(
        "\nAlpha Corp,alpha,p1,cooperative,default\n\nBeta Board,beta,p2,cooperative,default\n"
        "Gamma Group,gamma,wizard,cooperative,default\n")
    with pytest.raises(GameFormatError) as info:
        load_game(folder)
    assert info.value.line == 5


def test_resolve_game_path(tmp_path: Path) -> None:
    assert resolve_game_path("base") == DEFAULT_GAMES_DIR / "base"
    folder = small_game(tmp_path)
    assert resolve_game_path(folder) == folder
    assert resolve_game_path("small", tmp_path) == tmp_path / "small"
    with pytest.raises(GameFormatError, match="no game folder named 'nope'"):
        resolve_game_path("nope")
    (tmp_path / "games").mkdir()
    with pytest.raises(GameFormatError):
        resolve_game_path("../small", tmp_path / "games")


# --------------------------------------------------------------------------------------------
# Regressions: hostile input that once escaped as the wrong exception type
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["file_name", "incentive"])
def test_overlong_config_names_give_game_format_error(tmp_path: Path, field: str) -> None:
    folder = small_game(tmp_path)
    old = "gamma,player" if field == "file_name" else "player,cooperative"
    new = "g" * 300 + ",player" if field == "file_name" else "player," + "c" * 300
    (folder / "config.txt").write_text((folder / "config.txt").read_text().replace(old, new))
    with pytest.raises(GameFormatError) as info:
        load_game(folder)
    assert str(info.value).startswith(str(folder / "config.txt"))


def test_initial_deal_with_huge_option_number(tmp_path: Path) -> None:
    folder = small_game(tmp_path)
    (folder / "initial_deal.txt").write_text("A" + "1" * 5000 + ",B1\n")
    with pytest.raises(GameFormatError) as info:
        load_game(folder)
    assert info.value.path == folder / "initial_deal.txt"


def test_brief_placeholder_with_huge_option_number(tmp_path: Path) -> None:
    folder = small_game(tmp_path)
    (folder / GAMMA_BRIEF).write_text("ok\n#A" + "1" * 5000 + "_NUM\n")
    with pytest.raises(GameFormatError) as info:
        load_game(folder)
    assert info.value.path == folder / GAMMA_BRIEF and info.value.line == 2


# --------------------------------------------------------------------------------------------
# Property tests: arbitrary text in one file -> Game or GameFormatError naming the file
# --------------------------------------------------------------------------------------------

FRAGMENTS = ["\n", ",", " ", "A1", "B2", "A9", "C1", "#A1_NUM", "#B_MAX_NUM", "#F1_NUM",
             "#threshold", "#A", "_NUM", "0", "7", "12", "-3", "999999", "1234567", "p1", "p2",
             "target", "player", "cooperative", "greedy", "targeted_adv", "Alpha Corp",
             "Beta Board", "Gamma Group", "alpha", "beta", "gamma", "default", "..", "/", "\r\n",
             '"', "{{ 7*7 }}", "\t", ";", "\ufeff", "\x85", "\u2028", "é"]
TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from(list("0123456789,-\n #AB_NUMthreshold ")), max_size=80),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
)
VALID_CONFIG = "".join(
    f"{n},{f},{r},cooperative,default\n"
    for n, f, r in (("Alpha Corp", "alpha", "p1"), ("Beta Board", "beta", "p2"),
                    ("Gamma Group", "gamma", "player")))
CONFIG_TEXT = st.one_of(
    TEXT,
    # a valid config with one line rewritten from fragments: reaches the deeper checks
    st.tuples(st.integers(0, 2), st.lists(st.sampled_from(FRAGMENTS), max_size=12)).map(
        lambda t: "".join(line if i != t[0] else "".join(t[1]) + "\n"
                          for i, line in enumerate(VALID_CONFIG.splitlines(keepends=True)))),
    st.lists(st.tuples(st.sampled_from(["Alpha Corp", "Beta Board", "Gamma Group", "X", ""]),
                       st.sampled_from(["alpha", "beta", "gamma", "delta", "a/b", ".."]),
                       st.sampled_from(["p1", "p2", "target", "player", "chair"]),
                       st.sampled_from(["cooperative", "greedy", "targeted_adv", "x"]),
                       st.just("default")), max_size=5)
    .map(lambda rows: "".join(",".join(r) + "\n" for r in rows)),
)
SCORES_TEXT = st.one_of(
    TEXT,
    st.lists(st.lists(st.integers(-99, 99), min_size=1, max_size=4), max_size=4)
    .map(lambda rows: "".join(",".join(map(str, r)) + "\n" for r in rows)),
)

BRIEF_TEXT = st.one_of(
    TEXT,
    st.lists(st.sampled_from(["#A1_NUM", "#A3_NUM", "#A4_NUM", "#B2_NUM", "#B_MAX_NUM",
                              "#C1_NUM", "#C_MAX_NUM", "#threshold", "#A0_NUM", " ", "\n", "x",
                              "{{ me }}", "#"]), min_size=1, max_size=12).map(" ".join),
)

TARGETS = {
    "config.txt": CONFIG_TEXT,
    "scores_files/gamma.txt": SCORES_TEXT,
    "scores_files/alpha.txt": SCORES_TEXT,
    "individual_instructions/cooperative/beta.txt": BRIEF_TEXT,
    "initial_deal.txt": TEXT,
    "global_instructions.txt": TEXT,
}


class _OneFileGame:
    """A small valid game in a temp dir; each example rewrites one file, loads, restores it.

    Creating a folder per example costs ~20 ms on this disk, so the folder is made once per
    test and only the file under test changes (``load_game`` never writes).
    """

    def __enter__(self) -> _OneFileGame:
        self._tmp = tempfile.TemporaryDirectory()
        self.folder = small_game(Path(self._tmp.name))
        self.originals = {p: p.read_bytes() for p in self.folder.rglob("*") if p.is_file()}
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    def load_with(self, rel: str, content: str | bytes) -> Game | GameFormatError:
        target = self.folder / rel
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        target.write_bytes(data)
        try:
            return load_game(self.folder)
        except GameFormatError as err:
            return err
        finally:
            target.write_bytes(self.originals[target])


def _assert_names_file(folder: Path, rel: str, result: Game | GameFormatError) -> None:
    if isinstance(result, Game):
        assert len(result.parties) >= 2
        return
    message = str(result)
    assert message.startswith(str(result.path)), message
    if rel == "config.txt":
        # config decides which other files are read: the error may name one of those
        assert result.path == folder / rel or folder in result.path.parents, message
    else:
        assert result.path == folder / rel, message


@pytest.mark.parametrize("rel", list(TARGETS))
def test_arbitrary_text_in_one_file(rel: str) -> None:
    seen: Counter[str] = Counter()
    with _OneFileGame() as game:

        @settings(max_examples=150, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(TARGETS[rel])
        def check(content: str) -> None:
            result = game.load_with(rel, content)
            _assert_names_file(game.folder, rel, result)
            seen[type(result).__name__] += 1
            if rel == "global_instructions.txt":
                assert isinstance(result, Game)  # never an error, at most a warning

        check()
    # the examples really exercised the loader (not just one outcome)
    if rel == "global_instructions.txt":
        assert seen["Game"] == sum(seen.values()) > 0, seen
    else:
        assert seen["GameFormatError"] >= 5 and seen["Game"] + seen["GameFormatError"] >= 50, seen


def test_arbitrary_bytes_in_one_file() -> None:
    with _OneFileGame() as game:

        @settings(max_examples=80, deadline=None, database=None)
        @given(st.sampled_from(["config.txt", "scores_files/beta.txt",
                                "individual_instructions/cooperative/alpha.txt",
                                "initial_deal.txt"]),
               st.binary(max_size=60))
        def check(rel: str, content: bytes) -> None:
            _assert_names_file(game.folder, rel, game.load_with(rel, content))

        check()


ISSUES_SMALL = load_scoring(DEFAULT_GAMES_DIR / "base").issues


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(["A1", "b2", "C 3", "D4", "E5", "E6", "F1", "a0", ",", ";", " ",
                              "A", "1", "\n", "A12", "é", "Z9"]), max_size=14).map("".join)))
def test_parse_deal_gives_deal_or_deal_error(text: str) -> None:
    from negotiation.core.errors import DealError

    try:
        deal = parse_deal(text, ISSUES_SMALL)
    except DealError:
        return
    assert len(deal.options) == len(ISSUES_SMALL)
    assert all(1 <= k <= i.n_options for k, i in zip(deal.options, ISSUES_SMALL))
    assert parse_deal(str(deal), ISSUES_SMALL) == deal


def test_four_party_specs_helper_is_valid(tmp_path: Path) -> None:
    # guards the factory used by other test files
    game = load_game(write_game(tmp_path, n_party_specs(4, roles=["p1", "p2", "player",
                                                                    "player"])))
    assert [p.role for p in game.parties] == ["p1", "p2", "player", "player"]
