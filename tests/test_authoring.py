"""``game stats|harden|derive|plot``: exact hardening (checked against brute force), derived
folders that load, a figure with data, and errors that write nothing."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
import pytest

from negotiation.core.deal_space import acceptance_matrix, all_scores, feasible_mask
from negotiation.core.game import Scoring
from negotiation.games.authoring import game_figure, output_folder, save_game_plot, set_minimum
from negotiation.games.check import summary
from negotiation.games.harden import harden, solution_key, with_minimums
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game, load_scoring
from negotiation_cli import main

BASE = DEFAULT_GAMES_DIR / "base"


def write_toy_game(folder: Path, seed: int = 3, shape: tuple[int, ...] = (3, 3, 4)) -> Path:
    """A small random game: p1, p2 and two players, every brief with ``#threshold``."""
    rng = np.random.default_rng(seed)
    roles = [("Alpha", "p1"), ("Beta", "p2"), ("Gamma", "player"), ("Delta", "player")]
    (folder / "scores_files").mkdir(parents=True)
    (folder / "individual_instructions" / "cooperative").mkdir(parents=True)
    lines = []
    for name, role in roles:
        file_name = name.lower()
        lines.append(f"{name},{file_name},{role},cooperative,default")
        rows = [rng.integers(0, 25, size=n).tolist() for n in shape]
        deal_scores = [sum(c) for c in itertools.product(*rows)]
        minimum = int(np.percentile(deal_scores, 45))
        text = "\n".join(",".join(map(str, r)) for r in rows) + f"\n{minimum}\n"
        (folder / "scores_files" / f"{file_name}.txt").write_text(text)
        (folder / "individual_instructions" / "cooperative" / f"{file_name}.txt").write_text(
            f"You are {name}. Never accept less than #threshold points.\n")
    (folder / "config.txt").write_text("\n".join(lines) + "\n")
    (folder / "global_instructions.txt").write_text(
        "Parties: " + ", ".join(f'"{n}"' for n, _ in roles) + ".\n")
    return folder


def brute_force(scoring: Scoring, bound: int) -> dict[tuple[int, int], tuple]:
    """(feasible, unanimous) -> the smallest ``solution_key`` over every threshold vector in
    the box, judged by the rules core (``acceptance_matrix``/``feasible_mask``)."""
    _, scores = all_scores(scoring)
    p1 = scoring.parties.index(scoring.proposer)
    ideal = scores[:, p1] == scores[:, p1].max()
    best: dict[tuple[int, int], tuple] = {}
    base = [p.minimum for p in scoring.parties]
    for deltas in itertools.product(range(-bound, bound + 1), repeat=len(base)):
        s = with_minimums(scoring, [m + d for m, d in zip(base, deltas)])
        accept = acceptance_matrix(s, scores)
        feasible = feasible_mask(s, accept)
        if feasible[ideal].any():
            continue
        target = (int(feasible.sum()), int(accept.all(axis=1).sum()))
        key = solution_key(deltas)
        if target not in best or key < best[target]:
            best[target] = key
    return best


def counts_of(folder: Path) -> tuple[int, int]:
    """(feasible, unanimous) with >= as ``check`` reports them."""
    s = summary(load_game(folder))
    return s["feasible"][">="], s["unanimous"][">="]


@pytest.mark.parametrize(("feasible", "unanimous"), [(30, 4), (17, 2)])
def test_harden_base_hits_paper_targets(tmp_path: Path, feasible: int, unanimous: int,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"base_{feasible}_{unanimous}"
    start = time.perf_counter()
    rc = main(["game", "harden", "base", "--feasible", str(feasible), "--unanimous",
               str(unanimous), "--out", str(out)])
    assert rc == 0 and time.perf_counter() - start < 10
    assert counts_of(out) == (feasible, unanimous)
    stats = json.loads(_run(capsys, ["game", "stats", str(out), "--json"]))
    assert stats["proposer_ideal"]["feasible"][">="] is False
    assert (out / "HARDENED.txt").is_file()
    # Every file is copied; only the last line of some score files differs.
    source_files = {p.relative_to(BASE) for p in BASE.rglob("*") if p.is_file()}
    written = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    assert written == source_files | {Path("HARDENED.txt")}
    for rel in source_files:
        old, new = (BASE / rel).read_text().splitlines(), (out / rel).read_text().splitlines()
        same = old == new or (rel.parts[0] == "scores_files" and old[:-1] == new[:-1])
        assert same, rel


def test_harden_base_finds_known_minimum() -> None:
    result = harden(load_scoring(BASE), 30, 4)
    assert result is not None and result.changes == {"Department of Tourism": (65, 72)}
    result = harden(load_scoring(BASE), 17, 2)
    assert result is not None and result.cost == 10


def test_harden_is_minimal_on_toy_game(tmp_path: Path) -> None:
    scoring = load_scoring(write_toy_game(tmp_path / "toy"))
    bound = 4
    table = brute_force(scoring, bound)
    reachable = sorted(table)
    assert len(reachable) > 10
    for target in reachable[:: max(1, len(reachable) // 25)]:
        result = harden(scoring, *target, bound=bound)
        assert result is not None, target
        assert solution_key(result.deltas) == table[target], target
        assert (result.feasible, result.unanimous) == target
    missing = next((f, u) for f in range(40) for u in range(f + 1) if (f, u) not in table)
    assert harden(scoring, *missing, bound=bound) is None


@pytest.fixture(scope="module")
def base_table() -> dict[tuple[int, int], tuple]:
    """Brute force over base's thresholds within ±1 (729 vectors)."""
    return brute_force(load_scoring(BASE), 1)


def test_harden_is_minimal_on_base_small_bound(base_table: dict) -> None:
    scoring = load_scoring(BASE)
    for target in sorted(base_table)[:: max(1, len(base_table) // 6)]:
        result = harden(scoring, *target, bound=1)
        assert result is not None and solution_key(result.deltas) == base_table[target]


def test_harden_feasible_only_target(base_table: dict) -> None:
    scoring = load_scoring(BASE)
    for feasible in sorted({f for f, _ in base_table})[::3]:
        result = harden(scoring, feasible, bound=1)
        expected = min(key for (f, _), key in base_table.items() if f == feasible)
        assert result is not None and solution_key(result.deltas) == expected


def test_impossible_target_writes_nothing(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "impossible"
    assert main(["game", "harden", "base", "--feasible", "700", "--bound", "1",
                 "--out", str(out)]) == 2
    assert "no thresholds within ±1" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert main(["game", "harden", "base", "--feasible", "3", "--unanimous", "5",
                 "--out", str(out)]) == 2


def test_existing_output_needs_force(tmp_path: Path) -> None:
    (tmp_path / "base").symlink_to(BASE, target_is_directory=True)

    def harden_cli(feasible: int, unanimous: int, out: str, *extra: str) -> int:
        return main(["game", "harden", "base", "--feasible", str(feasible), "--unanimous",
                     str(unanimous), "--games-dir", str(tmp_path), "--out", out, *extra])

    assert harden_cli(30, 4, "hard") == 0 and counts_of(tmp_path / "hard") == (30, 4)
    assert harden_cli(17, 2, "hard") == 2 and counts_of(tmp_path / "hard") == (30, 4)
    assert harden_cli(17, 2, "hard", "--force") == 0 and counts_of(tmp_path / "hard") == (17, 2)
    (tmp_path / "notagame").mkdir()
    (tmp_path / "notagame" / "precious.txt").write_text("x")
    assert harden_cli(17, 2, "notagame", "--force") == 2
    assert (tmp_path / "notagame" / "precious.txt").is_file()
    assert harden_cli(17, 2, "base", "--force") == 2  # never over the source itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "hard", "notagame"]


def test_derive_drop_and_incentive(tmp_path: Path) -> None:
    out = tmp_path / "fewer"
    assert main(["game", "derive", "base", "--drop", "Mayor", "--drop", "Other cities",
                 "--incentive", "Environmental League=untargeted_adv",
                 "--incentive", "SportCo=greedy", "--out", str(out)]) == 0
    game = load_game(out)
    assert [p.name for p in game.parties] == [
        "SportCo", "Department of Tourism", "Environmental League", "Local Labour Union"]
    assert {p.name: p.incentive for p in game.parties}["Environmental League"] == "untargeted_adv"
    assert game.scoring.party("SportCo").incentive == "greedy"
    assert not list(out.rglob("mayor.txt")) and not list(out.rglob("other_cities.txt"))
    assert "Dropped: Mayor" in (out / "DERIVED.txt").read_text()
    assert summary(game)["feasible"][">="] > 0


@pytest.mark.parametrize("flags", [
    ["--drop", "SportCo"],                                  # p1: refused
    ["--drop", "Department of Tourism"],                    # p2: refused
    ["--drop", "Nobody"],                                   # unknown party
    ["--incentive", "Mayor=untargeted_adv"],                # no brief for that party
    ["--incentive", "Mayor"],                               # malformed
    ["--drop", "Mayor", "--incentive", "Mayor=greedy"],     # both
    ["--drop", "Local Labour Union", "--incentive", "Environmental League=targeted_adv"],
    [],                                                     # nothing to do
])
def test_derive_errors_write_nothing(tmp_path: Path, flags: list[str]) -> None:
    out = tmp_path / "variant"
    assert main(["game", "derive", "base", *flags, "--out", str(out)]) == 2
    assert list(tmp_path.iterdir()) == []


def test_plot_has_data(tmp_path: Path) -> None:
    from matplotlib.image import imread

    scoring = load_scoring(BASE)
    fig = game_figure(scoring)
    ax = fig.axes[0]
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points > 20 and len(ax.lines) >= 3
    png = save_game_plot(scoring, tmp_path / "base.png")
    pixels = imread(png)
    assert png.stat().st_size > 10_000
    assert pixels.reshape(-1, pixels.shape[-1]).std(axis=0).max() > 0.05  # not one colour
    assert main(["game", "plot", "base", "--out", str(tmp_path / "base.svg")]) == 0
    assert (tmp_path / "base.svg").read_text().lstrip().startswith("<?xml")
    assert main(["game", "plot", "base", "--out", str(tmp_path / "base.jpg")]) == 2


def test_stats_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_run(capsys, ["game", "stats", "base", "--json"]))
    assert data["feasible"] == {">=": 55, ">": 37} and data["unanimous"] == {">=": 12, ">": 6}
    assert data["proposer_ideal"] == {"party": "SportCo", "deal": "A1,B1,C4,D1,E5",
                                      "score": 100, "feasible": {">=": False, ">": False}}
    text = _run(capsys, ["game", "stats", "base"])
    assert "feasible 55" in text and "Pareto-optimal feasible deals (>=, 51)" in text


def test_set_minimum_keeps_other_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_bytes(b"1,2\r\n3,4\r\n50\r\n\r\n")
    set_minimum(path, 57)
    assert path.read_bytes() == b"1,2\r\n3,4\r\n57\r\n\r\n"


def test_output_folder(tmp_path: Path) -> None:
    assert output_folder("hard", tmp_path) == tmp_path / "hard"
    assert output_folder("x/hard", tmp_path) == Path("x/hard")
    assert output_folder("hard") == DEFAULT_GAMES_DIR / "hard"


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    return capsys.readouterr().out
