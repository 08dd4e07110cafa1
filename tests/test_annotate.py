"""Annotator agents: config errors, answer parsing, kappa definitions, and a full concurrent,
cached run against the loopback fake server (replies derived from the prompt, so the
agreement is known)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from evaluation.annotation.agreement import (
    agreement,
    cohen_kappa,
    fleiss_from_ratings,
    fleiss_kappa,
    label_rates,
)
from evaluation.annotation.annotators import load_annotators, parse_labels
from evaluation.annotation.run import CACHE_NAME, OUTPUT_NAME, collect_items
from negotiation.core.errors import ConfigError
from negotiation.logs.reading import load_logs
from negotiation_cli import main
from tests.fakes.fake_llm_server import FakeLLMServer, prompt_text

WIKI_FLEISS = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
               [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
               [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def test_cohen_kappa_textbook_and_edge_cases() -> None:
    # Cohen (1960)-style 2x2 example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)  # p_o = .7, p_e = .5
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == pytest.approx(1.0)
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.0)
    assert cohen_kappa([], []) is None
    assert cohen_kappa([1, 1], [1, 1]) is None  # p_e = 1: undefined
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 0])


def test_fleiss_kappa_textbook_and_edge_cases() -> None:
    # Fleiss (1971) as on Wikipedia: 10 items, 14 raters, 5 categories: P = .378, P_e = .213
    assert fleiss_kappa(WIKI_FLEISS) == pytest.approx(0.20993, abs=1e-5)
    assert fleiss_from_ratings([[1, 1, 1], [0, 0, 0], [1, 1, 1]]) == pytest.approx(1.0)
    # 4 items x 3 raters, hand-computed: P_i = 1, 1/3, 1/3, 1 -> P = 2/3; p = (.5, .5) -> P_e = .5
    ratings = [[1, 1, 1], [1, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert fleiss_from_ratings(ratings) == pytest.approx(1 / 3)
    assert fleiss_kappa([[3, 0], [3, 0]]) is None
    with pytest.raises(ValueError):
        fleiss_kappa([[2, 1], [1, 1]])


def test_rates_and_agreement_from_rows() -> None:
    rows = [{"session": "s", "turn": t, "annotator": name, "label": "threat", "value": v}
            for name, values in {"a": [1, 0, 1, None], "b": [1, 0, 1, 1],
                                 "c": [0, 1, 1, 1]}.items()
            for t, v in enumerate(values)]
    for r in rows:
        r["value"] = None if r["value"] is None else bool(r["value"])
    rates = label_rates(rows)["threat"]
    assert rates["a"] == {"yes": 2, "no": 1, "missing": 1, "rate": pytest.approx(2 / 3)}
    agree = agreement(rows)["threat"]
    assert agree["cohen"]["a|b"] == {"kappa": pytest.approx(1.0), "n": 3}
    assert agree["cohen"]["b|c"]["n"] == 4
    assert agree["fleiss"]["n"] == 3 and agree["fleiss"]["raters"] == 3


def test_parse_labels_is_robust() -> None:
    labels = ["threat", "leakage", "toxicity"]
    assert parse_labels("Threat: YES\n- leakage: no\n", labels) == {
        "threat": True, "leakage": False, "toxicity": None}
    assert parse_labels('Sure! {"threat": "yes", "leakage": false, "toxicity": 0}', labels) == {
        "threat": True, "leakage": False, "toxicity": False}
    assert parse_labels("threat: yes\nthreat: no", labels)["threat"] is None
    assert parse_labels("", labels) == dict.fromkeys(labels)
    assert parse_labels("{not json}\n**threat**: no", labels)["threat"] is False


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("annotators:\n  - name: a\n    model: openai:m@http://h/v1\n    labelz: [x]\n", 4,
     "unknown key"),
    ("annotators:\n  - name: a\n    model: nope:m\n", 3, "unknown provider"),
    ("annotators:\n  - name: a\n    model: openai:m@http://h/v1\n    instruction: '{{ mesage }}'\n",
     4, "'mesage' is undefined"),
    ("annotators:\n  - name: a\n    model: openai:m@http://h/v1\n    labels: [threat, foo]\n", 4,
     "unknown label 'foo'"),
    ("labels: {threat: t}\nannotators:\n  - {name: a, model: 'openai:m@http://h/v1'}\n"
     "  - {name: a, model: 'openai:m@http://h/v1'}\n", 4, "duplicate annotator"),
    ("annotators: [\n", 2, "malformed YAML"),
    ("annotators:\n  - name: a\n    model: scripted:rational\n", 3, "cannot annotate"),
])
def test_malformed_annotators_file_names_file_and_line(tmp_path: Path, text: str, line: int,
                                                       fragment: str, capsys: Any) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:{line}:")) as err:
        load_annotators(path)
    assert fragment in str(err.value)
    assert main(["annotate", str(tmp_path), "--annotators", str(path)]) == 2
    assert f"{path}:{line}:" in capsys.readouterr().err


def test_shipped_example_loads() -> None:
    config = load_annotators(Path(__file__).resolve().parent.parent / "experiments" /
                             "annotators.yaml")
    assert len(config.annotators) == 3 and config.annotators[2].label_names == (
        "leakage", "threat")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("logs")
    assert main(["--game", "base", "--model", "scripted:rational", "--rounds", "4", "--sessions",
                 "2", "--no-vote", "--out", str(out), "--name", "r", "--quiet"]) == 0
    return out / "r"


def rule(message: str) -> bool:
    """The 'truth' every fake annotator starts from: does the message propose option A1?"""
    return "A1," in message


def reply(body: dict[str, Any]) -> str:
    text = prompt_text(body)
    who = re.search(r"annotator (\w+)", text).group(1)  # type: ignore[union-attr]
    message = re.search(r"<<<\n(.*)\n>>>", text, re.S).group(1)  # type: ignore[union-attr]
    if who == "mute":
        return "I would rather not say."
    threat = rule(message) != (who == "contrarian")
    return f"threat: {'yes' if threat else 'no'}\ntoxicity: no"


def write_config(path: Path, url: str, names: list[str]) -> Path:
    lines = ["labels: {threat: a threat, toxicity: toxic}",
             "instruction: \"annotator {{ annotator }}\\n<<<\\n{{ message }}\\n>>>\\n\"",
             "annotators:"]
    lines += [f"  - {{name: {n}, model: 'openai:fake@{url}'}}" for n in names]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_annotate_run_concurrent_cached_and_agreement(run_dir: Path, tmp_path: Path,
                                                      capsys: Any) -> None:
    names = ["first", "second", "contrarian", "mute"]
    items = collect_items(load_logs(run_dir).logs)
    truth = {(i.session, i.turn): rule(i.context["message"]) for i in items}
    assert 0 < sum(truth.values()) < len(truth)
    with FakeLLMServer(reply, delay_s=0.02) as server:
        config = write_config(tmp_path / "a.yaml", server.openai_base_url, names)
        assert main(["annotate", str(run_dir), "--annotators", str(config),
                     "--concurrency", "6", "--json"]) == 0
        first_calls = len(server.requests)
        assert server.max_in_flight >= 2
        report = json.loads(capsys.readouterr().out)
        assert main(["annotate", str(run_dir), "--annotators", str(config)]) == 0
        assert len(server.requests) == first_calls  # all from the cache
    unique = {i.context["message"] for i in items}  # the template shows only the message
    assert first_calls == len(unique) * len(names) < len(items) * len(names)
    rows = [json.loads(line) for line in (run_dir / OUTPUT_NAME).read_text().splitlines()]
    assert len(rows) == len(items) * len(names) * 2
    for r in rows:
        expected = {"first": truth[(r["session"], r["turn"])], "mute": None}.get(r["annotator"])
        if r["label"] == "threat" and r["annotator"] in ("first", "mute"):
            assert r["value"] is expected
    rate = sum(truth.values()) / len(truth)
    assert report["rates"]["threat"]["first"]["rate"] == pytest.approx(rate)
    assert report["rates"]["threat"]["mute"]["missing"] == len(items)
    cohen = report["agreement"]["threat"]["cohen"]
    assert cohen["first|second"]["kappa"] == pytest.approx(1.0)
    assert cohen["contrarian|first"]["kappa"] == pytest.approx(
        -2 * rate * (1 - rate) / (1 - 2 * rate * (1 - rate)))
    assert cohen["first|mute"] == {"kappa": None, "n": 0}
    fleiss = report["agreement"]["threat"]["fleiss"]
    assert fleiss["raters"] == 3 and fleiss["n"] == len(items)  # mute rated nothing
    assert fleiss["kappa"] == pytest.approx(fleiss_from_ratings(
        [[t, t, not t] for t in truth.values()]))
    assert report["agreement"]["toxicity"]["cohen"]["first|second"]["kappa"] is None


def test_cache_survives_a_torn_line_and_failed_calls_are_retried(run_dir: Path,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for f in run_dir.glob("session-*.json"):
        (folder / f.name).write_bytes(f.read_bytes())
    with FakeLLMServer(reply, failures=[400]) as server:
        config = write_config(tmp_path / "a.yaml", server.openai_base_url, ["first"])
        assert main(["annotate", str(folder), "--annotators", str(config)]) == 1
        made = len(server.requests)
        cache = folder / CACHE_NAME
        lines = cache.read_text().splitlines()
        assert len(lines) == made - 1
        cache.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20], encoding="utf-8")
        assert main(["annotate", str(folder), "--annotators", str(config)]) == 0
        assert len(server.requests) == made + 2  # the failed call and the torn line
    assert main(["annotate", str(folder), "--report"]) == 0
