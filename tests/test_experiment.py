"""Experiment files: grid expansion, stable order and ids, sampling, and file:line:key errors.

Every malformed file must raise one ``ExperimentError`` whose message reads
``FILE:LINE: key.path: what`` with the line of the offending key; nothing else may escape.
"""

from __future__ import annotations

import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation.core.errors import ConfigError
from negotiation.games.loader import load_game
from negotiation.runs.experiment import ExperimentError, describe, load_experiment
from negotiation.runs.setup import assign_models, new_log, session_id
from negotiation.runs.specs import ExperimentPlan, RateLimit, SessionSpec
from tests.gamefactory import REPO, copy_shipped

BASE = ("SportCo", "Department of Tourism", "Environmental League", "Mayor", "Other cities",
        "Local Labour Union")


def write(folder: Path, text: str, name: str = "exp.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(folder: Path, text: str) -> ExperimentPlan:
    return load_experiment(write(folder, text))


def ids(plan: ExperimentPlan) -> list[str]:
    """Session ids as the runner computes them (``session.session_id``)."""
    out = []
    for spec in plan.sessions:
        game = load_game(spec.game, spec.incentives, spec.parties)
        out.append(session_id(game, assign_models(game, spec.settings), spec.settings,
                              spec.index))
    return out


# --- expansion ------------------------------------------------------------------------------

def test_shipped_example_expands_in_a_stable_order() -> None:
    plan = load_experiment(REPO / "experiments" / "example.yaml")
    # per game: 6 subsets (k=2 of 4) x 2 incentive assignments, minus the 3 subsets without
    # the Environmental League (its override changes nothing there) = 9; x 2 p1 x 2 temps x 2 reps
    assert len(plan.sessions) == 2 * 9 * 2 * 2 * 2
    assert Counter(s.game.name for s in plan.sessions) == {"base": 72, "base_7parties": 72}
    assert plan.name == "coop-vs-greedy" and plan.run_dir == Path("logs/coop-vs-greedy")
    assert plan.concurrency == 8 and plan.max_cost == 10.0 and plan.prices is None
    assert plan.rate_limits == {"openai": RateLimit(16, 500, 200000)}
    assert plan.sessions[0].label == ("base | parties: SportCo, Department of Tourism, "
                                      "Environmental League, Mayor | p1: scripted:rational | "
                                      "temperature=0.0 | rep 0")
    assert plan.sessions[8].label == ("base | parties: SportCo, Department of Tourism, "
                                      "Environmental League, Mayor | incentives: Environmental "
                                      "League=untargeted_adv | p1: scripted:rational | "
                                      "temperature=0.0 | rep 0")
    assert plan.sessions[-1].label == ("base_7parties | parties: SportCo, Department of Tourism, "
                                       "Other cities, Local Labour Union | p1: scripted:greedy | "
                                       "temperature=0.7 | rep 1")
    assert load_experiment(REPO / "experiments" / "example.yaml") == plan
    first = ids(plan)
    assert len(set(first)) == len(first)
    assert ids(load_experiment(REPO / "experiments" / "example.yaml")) == first


def test_smoke_example_runs_scripted_models_on_two_games() -> None:
    plan = load_experiment(REPO / "experiments" / "smoke.yaml")
    assert [s.game.name for s in plan.sessions] == ["base"] * 4 + ["oss_licence"] * 4
    for spec in plan.sessions:
        game = load_game(spec.game, spec.incentives, spec.parties)
        models = assign_models(game, spec.settings)
        assert {m.provider for m in models.values()} == {"scripted"}
    logs = [new_log(load_game(s.game), assign_models(load_game(s.game), s.settings), s.settings,
                    plan.name, s.index) for s in plan.sessions]
    assert len({log.session_id for log in logs}) == 8
    assert [log.seed for log in logs[:2]] == [1, 2]


def test_grid_order_is_games_subsets_incentives_p1_generation_seeds(tmp_path: Path) -> None:
    plan = load(tmp_path, """
        games: [base, oss_licence]
        models: {all: scripted:rational, p1: [scripted:greedy, scripted:stubborn]}
        generation: {temperature: [0, 1], max_tokens: [64, 128]}
        seeds: [5, 6]
        """)
    assert len(plan.sessions) == 2 * 2 * 4 * 2
    first = plan.sessions[:8]
    assert [(s.settings.generation.temperature, s.settings.generation.max_tokens,
             s.settings.seed) for s in first] == [
        (0.0, 64, 5), (0.0, 64, 6), (0.0, 128, 5), (0.0, 128, 6),
        (1.0, 64, 5), (1.0, 64, 6), (1.0, 128, 5), (1.0, 128, 6)]
    assert all(s.index == 0 for s in plan.sessions)
    assert plan.sessions[0].label == "base | p1: scripted:greedy | temperature=0.0 | " \
                                     "max_tokens=64 | seed=5"
    assert plan.sessions[8].settings.party_models == {"SportCo": "scripted:stubborn"}
    assert plan.sessions[16].game.name == "oss_licence"
    assert len(set(ids(plan))) == len(plan.sessions)


def test_repetitions_give_indices_and_defaults(tmp_path: Path) -> None:
    plan = load(tmp_path, """
        games: base
        models: scripted:greedy
        repetitions: 3
        """)
    assert plan.name == "exp" and plan.out == Path("logs") and plan.concurrency == 4
    assert [s.index for s in plan.sessions] == [0, 1, 2]
    assert [s.label for s in plan.sessions] == ["base | rep 0", "base | rep 1", "base | rep 2"]
    spec = plan.sessions[0]
    assert spec.settings.model == "scripted:greedy" and spec.settings.party_models == {}
    assert spec.settings.seed == 0 and spec.settings.rounds is None and spec.settings.vote
    assert spec.parties is None and dict(spec.incentives) == {}
    assert spec.settings.generation.temperature == 0.0
    assert spec.settings.generation.max_tokens == 512


def test_combinations_of_k(tmp_path: Path) -> None:
    plan = load(tmp_path, """
        games: base
        models: scripted:rational
        parties:
          combinations:
            always: [Department of Tourism, SportCo]
            of: [Mayor, Other cities, Environmental League, Local Labour Union]
            k: [1, 2]
        """)
    subsets = [s.parties for s in plan.sessions]
    assert len(subsets) == 4 + 6
    assert subsets[0] == ("SportCo", "Department of Tourism", "Mayor")
    assert subsets[4] == ("SportCo", "Department of Tourism", "Mayor", "Other cities")
    assert all(set(s) >= {"SportCo", "Department of Tourism"} for s in subsets if s)
    assert len(set(subsets)) == 10
    default_pool = load(tmp_path, """
        games: base
        models: scripted:rational
        parties: {combinations: {always: [SportCo], k: 4}}
        """)
    assert len(default_pool.sessions) == 5  # 4 of the 5 other parties
    only_always = load(tmp_path, """
        games: base
        models: scripted:rational
        parties: {combinations: {always: [SportCo, Mayor], of: [Other cities], k: 0}}
        """)
    assert [s.parties for s in only_always.sessions] == [("SportCo", "Mayor")]


def test_p1_grid_assigns_the_proposer_only(tmp_path: Path) -> None:
    plan = load(tmp_path, """
        games: base
        models:
          all: scripted:stubborn
          parties: {Mayor: scripted:greedy}
          p1: [scripted:rational, scripted:random]
        parties:
          subsets:
            - [SportCo, Mayor, Other cities]
            - [Department of Tourism, Mayor, Local Labour Union]
        """)
    assigned = []
    for spec in plan.sessions:
        game = load_game(spec.game, spec.incentives, spec.parties)
        assigned.append({k: str(v) for k, v in assign_models(game, spec.settings).items()})
    assert assigned[0] == {"SportCo": "scripted:rational", "Mayor": "scripted:greedy",
                           "Other cities": "scripted:stubborn"}
    assert assigned[1]["SportCo"] == "scripted:random"
    # without SportCo the first party chairs: p1 models go to it
    assert assigned[2] == {"Department of Tourism": "scripted:rational",
                           "Mayor": "scripted:greedy", "Local Labour Union": "scripted:stubborn"}
    assert plan.sessions[3].label == ("base | parties: Department of Tourism, Mayor, Local Labour "
                                      "Union | p1: scripted:random")


def test_incentives_grid_and_collapsed_conditions(tmp_path: Path) -> None:
    plan = load(tmp_path, """
        games: base
        models: scripted:rational
        incentives:
          - {}
          - {Environmental League: untargeted_adv, Mayor: greedy}
          - {Environmental League: targeted_adv}
        parties:
          subsets:
            - [SportCo, Department of Tourism, Environmental League, Local Labour Union]
            - [SportCo, Department of Tourism, Mayor]
        """)
    got = [(s.parties, dict(s.incentives)) for s in plan.sessions]
    assert got == [
        (BASE[:3] + BASE[5:], {}),
        (BASE[:3] + BASE[5:], {"Environmental League": "untargeted_adv"}),
        (BASE[:3] + BASE[5:], {"Environmental League": "targeted_adv"}),
        (("SportCo", "Department of Tourism", "Mayor"), {}),
        (("SportCo", "Department of Tourism", "Mayor"), {"Mayor": "greedy"}),
    ]  # the third assignment means nothing without the League: it runs once, as config
    assert len(set(ids(plan))) == 5


def test_sample_is_seeded_reproducible_and_a_subset_of_the_grid(tmp_path: Path) -> None:
    grid_text = """
        games: [base, oss_licence]
        models: {all: scripted:rational, p1: [scripted:greedy, scripted:stubborn]}
        generation: {temperature: [0, 0.5, 1]}
        repetitions: 4
        """
    grid_text = textwrap.dedent(grid_text)
    grid = load(tmp_path, grid_text).sessions
    assert len(grid) == 48

    def sample(k: int, seed: int) -> tuple[SessionSpec, ...]:
        return load(tmp_path, grid_text + f"sample: {{k: {k}, seed: {seed}}}\n").sessions

    first = sample(10, 1)
    assert len(first) == 10
    assert len(set(ids(load(tmp_path, grid_text + "sample: {k: 10, seed: 1}\n")))) == 10
    assert first == sample(10, 1)
    positions = [grid.index(s) for s in first]
    assert positions == sorted(positions)  # kept in grid order
    assert sample(10, 2) != first
    assert sample(48, 3) == grid


def test_paths_names_and_execution_settings(tmp_path: Path) -> None:
    copy_shipped(tmp_path / "games", "oss_licence", "mine")
    (tmp_path / "prices.yaml").write_text("prices:\n  'openai:*': {input_per_million: 1, "
                                          "output_per_million: 2}\n")
    plan = load(tmp_path, """
        name: trial
        out: results/sweeps
        games: [games/mine]
        models: scripted:rational
        rounds: 3
        window: 2
        vote: false
        base_url: http://127.0.0.1:8000/v1
        concurrency: 2
        rate_limits: {openai: {max_in_flight: 3}, gemini: {requests_per_minute: 60}}
        max_cost: 2.5
        prices: prices.yaml
        """)
    assert plan.run_dir == Path("results/sweeps/trial")
    assert plan.sessions[0].game == (tmp_path / "games" / "mine").resolve()
    assert plan.prices == (tmp_path / "prices.yaml").resolve() and plan.max_cost == 2.5
    assert plan.rate_limits == {"openai": RateLimit(3), "gemini": RateLimit(None, 60)}
    s = plan.sessions[0].settings
    assert (s.rounds, s.window, s.vote, s.base_url) == (3, 2, False, "http://127.0.0.1:8000/v1")
    by_name = load_experiment(write(tmp_path, "games: mine\nmodels: scripted:rational\n"),
                              games_dir=tmp_path / "games")
    assert by_name.sessions[0].game == plan.sessions[0].game


def test_describe_lists_one_line_per_session(tmp_path: Path) -> None:
    plan = load(tmp_path, """
        games: base
        models: {parties: {Mayor: scripted:greedy}, p1: [scripted:rational]}
        incentives: {Environmental League: untargeted_adv}
        parties: {subsets: [[SportCo, Mayor, Environmental League]]}
        seeds: [4]
        """)
    lines = describe(plan)
    assert lines == [
        "1. base | parties: SportCo, Environmental League, Mayor | incentives: Environmental "
        "League=untargeted_adv | p1: scripted:rational | seed=4 :: game=base "
        "models=[Mayor=scripted:greedy, SportCo=scripted:rational] "
        "incentives=[Environmental League=untargeted_adv] "
        "parties=[SportCo, Environmental League, Mayor] seed=4 index=0"]


# --- errors -----------------------------------------------------------------------------------

ERRORS = [
    ("unknown top key", "games: base\ngenration: {temperature: 1}\n", 2, "genration",
     "did you mean 'generation'"),
    ("unknown nested key", "games: base\ngeneration:\n  max_tokens: 5\n  temprature: 1\n", 4,
     "generation.temprature", "unknown key"),
    ("unknown rate-limit key", "games: base\nrate_limits:\n  openai:\n    rpm: 5\n", 4,
     "rate_limits.openai.rpm", "unknown key"),
    ("unknown provider in rate limits", "games: base\nrate_limits:\n  opneai: {}\n", 3,
     "rate_limits.opneai", "'openai'"),
    ("wrong type", "games: base\nwindow: six\n", 2, "window", "valid integer"),
    ("bool is not an int", "games: base\nconcurrency: true\n", 2, "concurrency", "integer"),
    ("int is not a bool", "games: base\nvote: 1\n", 2, "vote", "valid boolean"),
    ("mapping expected", "games: base\ngeneration: 3\n", 2, "generation",
     "should be a mapping, got 3"),
    ("text expected", "games: base\nname: [a]\n", 2, "name",
     "should be a valid string, got a list"),
    ("missing games", "name: x\nwindow: 3\n", 1, "games", "required"),
    ("party not in game (models)",
     "games: base\nmodels:\n  parties:\n    Nobody: scripted:greedy\n", 4,
     "models.parties.Nobody", "not a party of game 'base'"),
    ("party not in every game", "games: [base, oss_licence]\nmodels:\n  parties: {Mayor: "
     "scripted:greedy}\n", 3, "models.parties.Mayor", "oss_licence"),
    ("party not in game (incentives)", "games: base\nincentives:\n  - {}\n  - {Nobody: greedy}\n",
     4, "incentives[1].Nobody", "not a party"),
    ("party not in game (subsets)", "games: base\nparties:\n  subsets:\n    - [SportCo, Mayor]\n"
     "    - - SportCo\n      - Nobody\n", 6, "parties.subsets[1][1]", "'Nobody'"),
    ("party not in game (of)", "games: base\nparties:\n  combinations:\n    of:\n      - Mayor\n"
     "      - Nobody\n    k: 1\n    always: [SportCo]\n", 6, "parties.combinations.of[1]",
     "'Nobody'"),
    ("incentive without instructions", "games: base\nincentives:\n  Mayor: untargeted_adv\n", 3,
     "incentives.Mayor", "individual_instructions/untargeted_adv/mayor.txt"),
    ("incentive not a plain name", "games: base\nincentives: {Mayor: ../greedy}\n", 2,
     "incentives.Mayor", "not a plain name"),
    ("targeted_adv without target", "games: base\nincentives:\n  - {}\n  - Environmental League: "
     "targeted_adv\nparties:\n  subsets: [[SportCo, Mayor, Environmental League]]\n", 4,
     "incentives[1].Environmental League", "no party has the role 'target'"),
    ("unknown provider", "games: base\nmodels:\n  all: foo:bar\n", 3, "models.all",
     "unknown provider 'foo'"),
    ("spec without model", "games: base\nmodels:\n  p1:\n    - scripted:greedy\n    - 'openai:'\n",
     5, "models.p1[1]", "names no model"),
    ("unknown scripted policy", "games: base\nmodels: scripted:rationall\n", 2, "models",
     "unknown scripted policy"),
    ("repetitions and seeds", "games: base\nseeds: [1, 2]\nwindow: 3\nrepetitions: 2\n", 4,
     "repetitions", "either repetitions or seeds"),
    ("combinations and subsets", "games: base\nparties:\n  subsets: [[SportCo, Mayor]]\n"
     "  combinations: {k: 1}\n", 4, "parties.combinations", "not both"),
    ("k larger than the pool", "games: base\nparties:\n  combinations:\n    of: [Mayor, "
     "Other cities]\n    always: [SportCo]\n    k: [1, 3]\n", 6, "parties.combinations.k[1]",
     "pool (of) holds 2"),
    ("subset too small", "games: base\nparties:\n  combinations:\n    of: [Mayor, Other cities]"
     "\n    k: 1\n", 5, "parties.combinations.k", "at least 2"),
    ("sample larger than grid", "games: base\nrepetitions: 3\nsample:\n  seed: 1\n  k: 4\n", 5,
     "sample.k", "larger than the grid of 3"),
    ("empty games", "window: 2\ngames: []\n", 2, "games", "must not be empty"),
    ("empty incentives", "games: base\nincentives: []\n", 2, "incentives", "must not be empty"),
    ("empty p1 grid", "games: base\nmodels:\n  p1: []\n", 3, "models.p1", "must not be empty"),
    ("empty temperature grid", "games: base\ngeneration:\n  temperature: []\n", 3,
     "generation.temperature", "must not be empty"),
    ("empty subsets", "games: base\nparties: {subsets: []}\n", 2, "parties.subsets",
     "must not be empty"),
    ("temperature too high", "games: base\ngeneration:\n  temperature:\n    - 0.5\n    - 2.5\n",
     5, "generation.temperature[1]", "less than or equal to 2"),
    ("top_p zero", "games: base\ngeneration: {top_p: 0}\n", 2, "generation.top_p",
     "greater than 0"),
    ("top_k zero", "games: base\ngeneration:\n  top_k: [0]\n", 3, "generation.top_k[0]",
     "greater than or equal to 1"),
    ("max_tokens zero", "games: base\ngeneration:\n  max_tokens: 0\n", 3,
     "generation.max_tokens", "greater than or equal to 1"),
    ("negative window", "games: base\n\nwindow: -1\n", 3, "window", "greater than or equal"),
    ("nan max_cost", "games: base\nmax_cost: .nan\n", 2, "max_cost", "finite"),
    ("duplicate grid entry", "games: base\nseeds:\n  - 1\n  - 2\n  - 1\n", 5, "seeds[2]",
     "duplicate entry (same as entry 0)"),
    ("duplicate game", "games:\n  - base\n  - oss_licence\n  - base\n", 4, "games[2]",
     "duplicate entry"),
    ("duplicate key", "games: base\nwindow: 2\nvote: true\nwindow: 3\n", 4, "window",
     "duplicate key"),
    ("unknown game", "games:\n  - base\n  - nonesuch\n", 3, "games[1]",
     "unknown game 'nonesuch'"),
    ("p1 and parties both set the proposer", "games: base\nmodels:\n  p1: scripted:greedy\n"
     "  parties:\n    SportCo: scripted:random\n", 5, "models.parties.SportCo", "proposer"),
    ("bad base_url", "games: base\nbase_url: localhost:8000\n", 2, "base_url", "https?"),
    ("missing price table", "games: base\nprices: nowhere.yaml\n", 2, "prices", "not a file"),
    ("bad run name", "name: a/b\ngames: base\n", 1, "name", "one path component"),
    ("sample k zero", "games: base\nsample: {k: 0}\n", 2, "sample.k", "greater than or equal"),
    ("non-mapping top level", "- base\n- oss_licence\n", 1, "", "expected a mapping"),
    ("scalar top level", "# a comment\n\nhello\n", 3, "", "got text"),
    ("control character", "games: base\nname: a\x1fb\n", 2, "", "special characters"),
    ("malformed YAML", "games: [base\nwindow: 6\n", 2, "", "malformed YAML"),
    ("bad indentation", "games: base\ngeneration:\n  temperature: 0\n max_tokens: 5\n", 4, "",
     "malformed YAML"),
    ("unknown tag", "games: base\nwindow: !!python/object:os.system 1\n", 2, "",
     "malformed YAML"),
    ("two documents", "games: base\n---\ngames: base\n", 2, "", "malformed YAML"),
    ("invalid date", "games: base\nname: 2024-13-45\n", 2, "", "invalid value"),
    ("complex key", "games: base\n? [a, b]\n: 1\n", 2, "", "keys must be plain text"),
    ("empty file", "# nothing\n", 1, "", "empty"),
]


@pytest.mark.parametrize(("text", "line", "key", "needle"),
                         [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str,
                                       needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    err = info.value
    assert isinstance(err, ConfigError)
    assert (err.line, err.key) == (line, key), str(err)
    prefix = f"{path}:{line}: {key}: " if key else f"{path}:{line}: "
    assert str(err).startswith(prefix), str(err)
    assert needle in str(err), str(err)


def test_broken_game_keeps_the_game_error(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path, "oss_licence", "broken")
    (folder / "config.txt").write_text("Only,one,p1,cooperative,default\n")
    path = write(tmp_path, "window: 3\ngames:\n  - oss_licence\n  - broken\n")
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert str(info.value).startswith(f"{path}:4: games[1]: game 'broken' is malformed: ")
    assert f"{folder / 'config.txt'}: a game needs 2-15 parties" in str(info.value)


def test_bad_price_table_keeps_its_own_error(tmp_path: Path) -> None:
    (tmp_path / "prices.yaml").write_text("prices: 3\n")
    path = write(tmp_path, "games: base\n\nprices: prices.yaml\n")
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert str(info.value).startswith(f"{path}:3: prices: bad price table: ")
    assert str(tmp_path / "prices.yaml") in str(info.value)


def test_a_copied_game_is_a_duplicate(tmp_path: Path) -> None:
    copy_shipped(tmp_path, "oss_licence", "copy")
    path = write(tmp_path, "games:\n  - oss_licence\n  - copy\n")
    with pytest.raises(ExperimentError, match=r":3: games\[1\]: duplicate entry"):
        load_experiment(path)


def test_missing_game_brief_is_blamed_on_the_incentive(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path, "base", "mybase")
    (folder / "individual_instructions" / "greedy" / "union.txt").unlink()
    path = write(tmp_path, "games: mybase\nincentives:\n  - {}\n  - {Local Labour Union: greedy}\n")
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert str(info.value).startswith(f"{path}:4: incentives[1].Local Labour Union: ")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match="cannot read"):
        load_experiment(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"games: caf\xe9\n")
    with pytest.raises(ExperimentError, match="not valid UTF-8"):
        load_experiment(bad)
    bomb = write(tmp_path, "a: &a [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                 "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n")
    with pytest.raises(ExperimentError):
        load_experiment(bomb)


def test_grid_size_is_capped(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match="less than or equal to 100000") as info:
        load(tmp_path, "games: base\nmodels: scripted:rational\nrepetitions: 1000000000\n")
    assert info.value.line == 3
    with pytest.raises(ExperimentError, match="more than 100000") as info:
        load(tmp_path, "games: base\nmodels: scripted:rational\nrepetitions: 60000\n"
                       "generation: {temperature: [0, 0.5]}\n")
    assert info.value.line == 1


# --- property: nothing but ExperimentError ---------------------------------------------------

_TMP = Path(tempfile.mkdtemp(prefix="experiment-hypothesis-"))
_TOP = ["name", "out", "games", "models", "incentives", "parties", "generation", "repetitions",
        "seeds", "rounds", "window", "vote", "base_url", "concurrency", "rate_limits", "max_cost",
        "prices", "sample"]
_INNER = ["all", "parties", "p1", "combinations", "subsets", "of", "k", "always", "temperature",
          "top_p", "max_tokens", "openai", "max_in_flight", "seed", "Mayor", "SportCo",
          "Environmental League", "Corvid Cloud"]
_ATOMS = (st.none() | st.booleans() | st.integers(-3, 12) | st.floats(-1, 3) | st.text(max_size=8)
          | st.sampled_from(["base", "oss_licence", "scripted:rational", "scripted:greedy",
                             "openai:gpt-4o", "greedy", "untargeted_adv", "targeted_adv", "Mayor",
                             "SportCo", "Environmental League", "Department of Tourism"]))
_VALUES = st.recursive(_ATOMS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.sampled_from(_INNER), inner, max_size=3),
                       max_leaves=12)
_DOCS = st.dictionaries(st.sampled_from(_TOP), _VALUES, max_size=6).map(
    lambda d: yaml.safe_dump(d, allow_unicode=True))
_YAMLISH = st.text(alphabet=st.sampled_from(list("gamesbk:-[]{},&*!|>'\"#?%@\n \t01.x")),
                   max_size=80)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_DOCS, _YAMLISH, st.text(max_size=60),
                 st.sampled_from(_TOP).map(lambda k: f"games: base\n{k}: ")
                 .flatmap(lambda head: _VALUES.map(lambda v: head + yaml.safe_dump(v)))))
def test_arbitrary_text_raises_only_experiment_errors(text: str) -> None:
    path = _TMP / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        plan = load_experiment(path)
    except ExperimentError as err:
        assert str(err).startswith(str(path))
        return
    assert isinstance(plan, ExperimentPlan) and plan.sessions
