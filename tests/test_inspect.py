"""The games as inspect_ai tasks (``negotiation_inspect``), offline.

* ``inspect eval negotiation/base`` on the command line with every seat on the scripted
  provider but one on inspect's ``mockllm/model``, and through ``inspect_ai.eval`` with every
  seat scripted: status success, one sample per session, one transcript span per turn, the turn
  records in the store, scores equal to ``main.py evaluate`` on the session logs embedded in
  the ``.eval``; all-scripted, the embedded logs equal a ``main.py`` run of the same options
  (same session ids and seeds) apart from the run name;
* the embedded llama.cpp model as ``--model negotiation-llamacpp/smollm2`` (one short session,
  p1 on the model): the seat keeps one KV state per speaker, the session id is main.py's;
* the options main.py has (no vote, incentives, several representatives, summarizer,
  moderator) and the providers called through inspect (``native_seats=false``);
* ``main.py evaluate`` and ``report`` on the ``.eval`` give the figures of the native logs;
* ``inspect view`` on 127.0.0.1 in headless Chromium: the sample and its turns, a non-blank
  screenshot, no JavaScript error, no request leaving the machine;
* bad input (an unknown model role, a game that fails check, an unknown option): one line,
  no log written; the size limit of session logs applies to ``.eval`` members.

Nothing reaches the network: a guard refuses (and records) any connection off the loopback
interface in this process and in every ``inspect`` subprocess, and tiktoken's vocabulary, which
``mockllm/model`` would download to count tokens, is a local stand-in
(``tests/fakes/inspect_offline.py``).
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

inspect_ai = pytest.importorskip("inspect_ai", reason="inspect-ai is pinned in req-dev.txt")

from inspect_ai.log import EvalLog, read_eval_log  # noqa: E402

import negotiation_cli  # noqa: E402
from evaluation.inspect_logs import LOG_METADATA_KEY, read_eval_logs  # noqa: E402
from evaluation.readers import ReadOptions, read_run  # noqa: E402
from negotiation.backends.base import GenerateConfig  # noqa: E402
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game  # noqa: E402
from negotiation.logs.records import SessionLog, save_log, strip_volatile  # noqa: E402
from negotiation.runs.setup import RunSettings, assign_models, new_log  # noqa: E402
from negotiation_inspect.options import TaskError  # noqa: E402
from negotiation.games.roles import role_names, slug  # noqa: E402
from negotiation_inspect.seating import RUN_FIELDS  # noqa: E402
from negotiation_inspect.solver import SPAN_TYPE, TURNS_KEY, span_name  # noqa: E402
from negotiation_inspect.tasks import GAME_TASKS  # noqa: E402
from tests.browser import require_chromium, start_chrome  # noqa: E402
from tests.fakes import inspect_offline  # noqa: E402

SCRIPTED = "negotiation-scripted/rational"
LOCAL_URLS = ("http://127.0.0.1:", "data:", "blob:http://127.0.0.1:", "about:")
VIEW_PROBES = ("/api/flow",)
"""Optional viewer endpoints this server answers 404 (no flow file): not errors."""


@pytest.fixture(scope="module", autouse=True)
def offline() -> Iterator[None]:
    """Offline settings and the network guard for this module's in-process evals."""
    saved = {k: os.environ.get(k) for k in (*inspect_offline.offline_settings(),
                                            *inspect_offline.UNSET)}
    for key in inspect_offline.UNSET:
        os.environ.pop(key, None)
    os.environ.update(inspect_offline.offline_settings())
    uninstall = inspect_offline.install()
    yield
    uninstall()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    assert inspect_offline.attempts == [], "something tried to leave the machine"


@dataclass
class Inspect:
    """An ``inspect`` command running in the background with the network guard installed."""

    process: subprocess.Popen
    folder: Path

    @classmethod
    def start(cls, args: list[str], folder: Path, capture: bool = True,
              **env_vars: str) -> Inspect:
        folder.mkdir(parents=True, exist_ok=True)
        env = {**inspect_offline.offline_env(folder / "site", folder / "network.log"),
               **env_vars}
        out = subprocess.PIPE if capture else subprocess.DEVNULL
        process = subprocess.Popen([sys.executable, "-m", "inspect_ai", *args], env=env,
                                   cwd=folder, stdout=out, stderr=out, text=True)
        return cls(process, folder)

    def finish(self, timeout: int = 240) -> tuple[int, str]:
        """Wait for it: (exit status, stdout and stderr); asserts it stayed local."""
        out, err = self.process.communicate(timeout=timeout)
        self.assert_local()
        return self.process.returncode, (out or "") + (err or "")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.communicate(timeout=30)

    def assert_local(self) -> None:
        net_log = self.folder / "network.log"
        assert not net_log.exists() or net_log.read_text() == "", net_log.read_text()


def eval_in_process(task: str, log_dir: Path, **kwargs: Any) -> EvalLog:
    """``inspect_ai.eval`` of one task; its one log, read back from the ``.eval`` file."""
    logs = inspect_ai.eval(task, log_dir=str(log_dir), display="none", **kwargs)
    assert len(logs) == 1 and logs[0].status == "success", logs[0].error
    return read_eval_log(logs[0].location, resolve_attachments=True)


def only_log(folder: Path) -> Path:
    files = sorted(folder.glob("*.eval"))
    assert len(files) == 1, files
    return files[0]


def embedded(log: EvalLog) -> list[SessionLog]:
    return [SessionLog.model_validate(s.metadata[LOG_METADATA_KEY]) for s in log.samples]


def native_copy(eval_file: Path, folder: Path) -> Path:
    """The sessions of an ``.eval`` file written as native session logs."""
    found = read_eval_logs(eval_file)
    assert found.problems == []
    for item in found.entries:
        save_log(item.log, folder / item.path.name)
    return folder


def evaluate_json(target: Path, out: Path) -> dict[str, Any]:
    """``main.py evaluate TARGET --json``'s entry."""
    assert negotiation_cli.main(["evaluate", str(target), "--json", str(out)]) == 0
    (entry,) = json.loads(out.read_text())["runs"]
    return entry


def same(a: float | None, b: float | None) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and not (isinstance(b, float) and math.isnan(b)) and a == b


def check_sample_structure(log: EvalLog, sessions: int) -> list[SessionLog]:
    """Samples = sessions; one ``turn`` span per turn, named by turn; turns in the store."""
    assert log.status == "success" and len(log.samples) == sessions
    logs = embedded(log)
    assert [s.session_index for s in logs] == list(range(sessions))
    for sample, session in zip(log.samples, logs):
        assert session.status == "complete"
        spans = [e for e in sample.events
                 if type(e).__name__ == "SpanBeginEvent" and e.type == SPAN_TYPE]
        assert len(spans) == len(session.turns)
        assert sorted(e.name for e in spans) == sorted(
            span_name(t.index, t.speaker or t.party, t.phase) for t in session.turns)
        assert sample.store[TURNS_KEY] == [t.model_dump(mode="json") for t in session.turns]
        assert sample.metadata["session_id"] == session.session_id
    return logs


def check_scores(log: EvalLog, entry: dict[str, Any]) -> None:
    """Each sample's score equals ``evaluate``'s row of its session; summed counts equal the
    run's format-failure and leakage totals."""
    rows = {Path(r["source"]).name: r for r in entry["sessions"]}
    assert len(rows) == len(log.samples)
    formats, leaks = [0, 0], [0, 0]
    for sample in log.samples:
        score = sample.scores["session_metrics"]
        value, meta = score.value, score.metadata
        row = rows[f"session-{meta['session_id']}.json"]
        for key in ("final_success", "unanimous_success", "any_success", "vote_success"):
            assert same(value[key], None if row[key] is None else float(row[key])), key
        assert same(value["wrong_deal_ratio"], row["wrong_deal_ratio"])
        assert value["deals"] == row["n_deals"] and value["wrong_deals"] == row["n_wrong"]
        assert meta["final_deal"] == row["final_deal"]
        assert meta["final_scores"] == row["final_scores"]
        game = load_game(DEFAULT_GAMES_DIR / log.eval.metadata["game"])
        for role, party in role_names(game).items():
            if not party.startswith("@"):
                assert same(value[f"score_{role}"], (row["final_scores"] or {}).get(party))
        formats = [a + b for a, b in zip(formats, meta["format_failures"])]
        leaks = [a + b for a, b in zip(leaks, meta["leaked_messages"])]
    fidelity = entry["score_fidelity"]["format_failure"]
    assert formats == [fidelity["k"], fidelity["n"]]
    detector = entry["leakage"]["detector"]["messages"]
    assert leaks == [detector["k"], detector["n"]]
    metrics = {s.name: s.metrics for s in log.results.scores}
    assert metrics["final_success"]["mean"].value == pytest.approx(
        entry["final_success"]["rate"])


# -- roles ---------------------------------------------------------------------------------


def test_role_names_of_shipped_games() -> None:
    assert slug("Department of Tourism") == "department_of_tourism"
    assert slug("St. Brigid's Board") == "st_brigids_board"
    assert slug("Downstream Farmers' Cooperative") == "downstream_farmers_cooperative"
    assert slug("Comité Écologie") == "comite_ecologie"
    base = load_game(DEFAULT_GAMES_DIR / "base")
    assert role_names(base) == {
        "sportco": "SportCo", "department_of_tourism": "Department of Tourism",
        "environmental_league": "Environmental League", "mayor": "Mayor",
        "other_cities": "Other cities", "local_labour_union": "Local Labour Union",
        "p1": "SportCo", "p2": "Department of Tourism", "summarizer": "@summarizer",
        "moderator": "@moderator"}
    shipped = sorted(p.name for p in DEFAULT_GAMES_DIR.iterdir() if (p / "config.txt").is_file())
    assert sorted(GAME_TASKS) == shipped  # a new game needs its task in tasks.py
    for name in shipped:
        roles = role_names(load_game(DEFAULT_GAMES_DIR / name))
        assert len(roles) == len(set(roles)) and set(roles.values()) >= {
            p.name for p in load_game(DEFAULT_GAMES_DIR / name).parties}


def test_role_name_collisions_are_numbered(tmp_path: Path) -> None:
    from tests.gamefactory import PartySpec, write_game

    sheet = [[10, 0], [0, 10]]
    folder = write_game(tmp_path / "g", [
        PartySpec("A-B", "ab", sheet, 5, role="p1"), PartySpec("AB", "ab2", sheet, 5, role="p2"),
        PartySpec("P1", "pone", sheet, 5), PartySpec("???", "q", sheet, 5)])
    roles = role_names(load_game(folder))
    assert roles == {"ab": "A-B", "ab_2": "AB", "p1": "P1", "party_4": "???", "p2": "AB",
                     "summarizer": "@summarizer", "moderator": "@moderator"}


# -- inspect eval --------------------------------------------------------------------------


@dataclass
class CliRuns:
    """The command-line runs of this module, started early so they overlap the other tests:
    the eval with a mockllm seat, one with an unknown model role, and ``inspect view``."""

    path: Path
    log: EvalLog
    bad_role: Inspect
    bad_logs: Path
    viewer: Inspect
    port: int


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRuns]:
    """``inspect eval negotiation/base`` (command line): scripted seats, the Mayor on
    ``mockllm/model``, 2 sessions of 3 discussion turns."""
    tmp = tmp_path_factory.mktemp("cli")
    bad_logs = tmp / "bad" / "logs"
    bad_role = Inspect.start(["eval", "negotiation/base", "--model", SCRIPTED, "--model-role",
                              "sports_co=mockllm/model", "--log-dir", str(bad_logs)],
                             tmp / "bad", INSPECT_DISPLAY="plain")  # display none: no error
    status, output = Inspect.start(
        ["eval", "negotiation/base", "--model", SCRIPTED, "--model-role", "mayor=mockllm/model",
         "-T", "sessions=2", "-T", "rounds=3", "--log-dir", str(tmp / "logs")],
        tmp / "eval").finish()
    assert status == 0, output
    path = only_log(tmp / "logs")
    port = _free_port()
    viewer = Inspect.start(["view", "start", "--log-dir", str(path.parent), "--host",
                            "127.0.0.1", "--port", str(port)], tmp / "view", capture=False)
    try:
        yield CliRuns(path, read_eval_log(str(path)), bad_role, bad_logs, viewer, port)
    finally:
        viewer.stop()
        bad_role.stop()
    viewer.assert_local()


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EvalLog, Path]:
    """``inspect_ai.eval("negotiation/base")`` all scripted, and the same configuration run by
    ``main.py`` (``--model scripted:rational --rounds 3 --sessions 2``)."""
    tmp = tmp_path_factory.mktemp("scripted")
    log = eval_in_process("negotiation/base", tmp / "logs", model=SCRIPTED,
                          task_args={"sessions": 2, "rounds": 3})
    assert negotiation_cli.main(["--game", "base", "--model", "scripted:rational", "--rounds",
                                 "3", "--sessions", "2", "--out", str(tmp / "native"),
                                 "--name", "native", "--quiet"]) == 0
    return Path(log.location), log, tmp / "native" / "native"


def test_cli_eval_with_mockllm_seat(cli: CliRuns, tmp_path: Path) -> None:
    path, log = cli.path, cli.log
    assert log.eval.task == "negotiation/base"
    sessions = check_sample_structure(log, 2)
    mayor = [t for s in sessions for t in s.turns if t.party == "Mayor"]
    assert mayor and all(t.extra["inspect_model"] == "mockllm/model" for t in mayor)
    assert all(t.extra["inspect_role"] == "mayor" for t in mayor)
    assert {p.model for s in sessions for p in s.parties} == {"scripted:rational",
                                                               "inspect:mockllm/model"}
    models = [e for e in log.samples[0].events if type(e).__name__ == "ModelEvent"]
    assert models and all(e.model == "mockllm/model" for e in models)
    entry = evaluate_json(native_copy(path, tmp_path / "native"), tmp_path / "eval.json")
    check_scores(log, entry)


def test_python_eval_lines_up_with_main_py(scripted: tuple[Path, EvalLog, Path],
                                           tmp_path: Path) -> None:
    path, log, native = scripted
    sessions = check_sample_structure(log, 2)
    for session in sessions:
        twin = json.loads((native / f"session-{session.session_id}.json").read_text())
        mine = session.model_dump(mode="json")
        assert mine["seed"] == twin["seed"] and mine["session_index"] == twin["session_index"]
        mine["run_name"] = twin["run_name"]
        assert strip_volatile(mine) == strip_volatile(twin)
    check_scores(log, evaluate_json(native, tmp_path / "native.json"))
    check_scores(log, evaluate_json(native_copy(path, tmp_path / "copy"), tmp_path / "c.json"))


def test_evaluate_and_report_read_the_eval_file(scripted: tuple[Path, EvalLog, Path],
                                                tmp_path: Path) -> None:
    path, _, native = scripted
    from_eval = evaluate_json(path, tmp_path / "a.json")
    from_native = evaluate_json(native, tmp_path / "b.json")

    def figures(entry: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in entry.items() if k not in ("path", "unfinished")}
        out["sessions"] = [{**r, "source": Path(r["source"]).name} for r in entry["sessions"]]
        return out

    assert figures(from_eval) == figures(from_native) and from_eval["n_sessions"] == 2
    run = read_run(path, ReadOptions())
    assert run.errors == [] and len(run.sessions) == 2
    folder = read_run(path.parent, ReadOptions())  # a folder holding the .eval file
    assert folder.errors == [] and len(folder.sessions) == 2
    pages = {}
    for name, target in (("eval", path), ("native", native)):
        out = tmp_path / f"report-{name}"
        assert negotiation_cli.main(["report", str(target), "--out", str(out)]) == 0
        pages[name] = {p.name: _text(p, target) for p in sorted(out.glob("*.html"))}
    assert pages["eval"] == pages["native"] and len(pages["eval"]) == 4


def _text(page: Path, run: Path) -> str:
    """A report page's visible text with the run's path and name made neutral."""
    text = re.sub(r"<[^>]+>", "\n", page.read_text(encoding="utf-8"))
    text = text.replace(str(run), "RUN").replace(run.name, "RUN")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def test_llamacpp_provider_plays_a_short_session(tmp_path: Path) -> None:
    others = {r: SCRIPTED for r in ("core_maintainers", "startup_alliance",
                                    "free_software_guild")}
    log = eval_in_process("negotiation/oss_licence", tmp_path / "logs",
                          model="negotiation-llamacpp/smollm2", model_roles=others,
                          task_args={"sessions": 1, "rounds": 1, "vote": False,
                                     "structured": "off"}, max_tokens=24)
    (session,) = check_sample_structure(log, 1)
    own = [t for t in session.turns if t.party == "Corvid Cloud"]
    assert [p.model for p in session.parties] == ["llamacpp:smollm2"] + ["scripted:rational"] * 3
    assert len(own) >= 2 and all(t.output_tokens <= 24 for t in own)
    # one KV state per speaker: p1's later turn evaluates only what its first did not cover
    # (the first may find a few tokens of the chat template cached by an earlier session)
    assert own[-1].extra["prompt_tokens_evaluated"] < own[-1].input_tokens
    assert own[-1].extra["prompt_tokens_evaluated"] < own[0].extra["prompt_tokens_evaluated"]
    game = load_game(DEFAULT_GAMES_DIR / "oss_licence")
    structured = {"structured": "off"} if "structured" in RUN_FIELDS else {}
    settings = RunSettings(rounds=1, vote=False, generation=GenerateConfig(max_tokens=24),
                           party_models={p.name: "scripted:rational" for p in game.parties
                                         if p.role != "p1"}, model="llamacpp:smollm2",
                           **structured)
    twin = new_log(game, assign_models(game, settings), settings, "x", 0)
    assert (twin.session_id, twin.seed) == (session.session_id, session.seed)
    assert not math.isnan(log.samples[0].scores["session_metrics"].value["format_failure_rate"])


def test_native_options_and_providers_through_inspect(tmp_path: Path) -> None:
    """No vote, an incentive, a party with two representatives, summarizer and moderator: the
    same session as main.py; then the scripted provider called through inspect's generate."""
    from tests.gamefactory import copy_shipped

    folder = copy_shipped(tmp_path / "games", "oss_licence")
    config = folder / "config.txt"
    lines = config.read_text().splitlines()
    config.write_text("\n".join([lines[0], lines[1] + ",count=2", *lines[2:]]) + "\n")
    options = {"game": str(folder), "sessions": 1, "rounds": 4, "vote": False,
               "incentives": "Startup Alliance=greedy", "memory": "summary",
               "summary_every": 2, "order": "moderator", "structured": "off"}
    roles = {"summarizer": SCRIPTED, "moderator": SCRIPTED}
    log = eval_in_process("negotiation/game", tmp_path / "a", model=SCRIPTED,
                          model_roles=roles, task_args=options)
    (session,) = check_sample_structure(log, 1)
    assert log.eval.metadata["structured"] == "off"
    assert session.helpers == {"summarizer": "scripted:rational", "moderator": "scripted:rational"}
    assert any(t.speaker == "Core Maintainers 2" for t in session.turns)
    assert not session.vote and session.parties[2].incentive == "greedy"
    assert negotiation_cli.main([
        "--game", str(folder), "--model", "scripted:rational", "--rounds", "4", "--no-vote",
        "--incentive", "Startup Alliance=greedy", "--memory", "summary", "--summary-every", "2",
        "--summarizer-model", "scripted:rational", "--order", "moderator",
        "--moderator-model", "scripted:rational", "--out", str(tmp_path / "n"), "--name", "n",
        "--quiet"]) == 0
    twin = json.loads((tmp_path / "n" / "n" / f"session-{session.session_id}.json").read_text())
    mine = {**session.model_dump(mode="json"), "run_name": twin["run_name"]}
    assert strip_volatile(mine) == strip_volatile(twin)

    routed = eval_in_process("negotiation/game", tmp_path / "b", model=SCRIPTED,
                             model_roles=roles, task_args={**options, "native_seats": False})
    (through,) = check_sample_structure(routed, 1)
    assert through.session_id == session.session_id
    assert [(t.party, t.phase, t.public, t.deal) for t in through.turns] == [
        (t.party, t.phase, t.public, t.deal) for t in session.turns]
    models = [e for e in routed.samples[0].events if type(e).__name__ == "ModelEvent"]
    assert len(models) == len(through.turns)


def test_log_dir_mirrors_and_resumes_sessions(tmp_path: Path) -> None:
    """``-T log_dir`` writes native logs; a later eval (inspect's retry) of a session whose
    journal stopped early continues after its last completed turn, as ``main.py --resume``."""
    import asyncio

    from negotiation.logs.journal import JournalSink

    options = {"sessions": 2, "rounds": 3, "name": "mirror", "log_dir": str(tmp_path / "runs")}
    first = eval_in_process("negotiation/base", tmp_path / "a", model=SCRIPTED,
                            task_args=options)
    done = embedded(first)
    run = tmp_path / "runs" / "mirror"
    for session in done:
        on_disk = json.loads((run / f"session-{session.session_id}.json").read_text())
        assert strip_volatile(on_disk) == strip_volatile(session.model_dump(mode="json"))
    cut = done[1].model_copy(deep=True)
    cut.turns, cut.status = cut.turns[:4], "running"
    cut.final_deal = cut.threshold_outcome = cut.vote_outcome = cut.outcomes_differ = None
    cut.final_scores = {}
    path = run / f"session-{cut.session_id}.json"
    path.unlink()
    asyncio.run(JournalSink(path).begin(cut))  # what a crash after turn 3 leaves behind
    again = eval_in_process("negotiation/base", tmp_path / "b", model=SCRIPTED,
                            task_args=options)
    resumed = embedded(again)
    for before, after in zip(done, resumed):
        assert strip_volatile(after.model_dump(mode="json")) == strip_volatile(
            before.model_dump(mode="json"))
    sample = again.samples[1]
    spans = [e for e in sample.events
             if type(e).__name__ == "SpanBeginEvent" and e.type == SPAN_TYPE]
    assert len(spans) == len(done[1].turns) - 4
    assert sample.store[TURNS_KEY] == [t.model_dump(mode="json") for t in resumed[1].turns]
    infos = [e.data for e in sample.events if type(e).__name__ == "InfoEvent"]
    assert any("resumed from" in str(d) and "after 4 completed turns" in str(d) for d in infos)


def test_local_providers_outside_the_tasks(tmp_path: Path) -> None:
    """The providers as any inspect task would call them: a scripted policy needs a
    negotiation turn; llama.cpp keys its KV state by the seat acting (or one shared state)."""
    import asyncio

    from inspect_ai.model import GenerateConfig as InspectConfig
    from inspect_ai.model import get_model

    from negotiation.core.phases import Phase
    from negotiation.protocol.seats import Observation
    from negotiation_inspect.backend import SEAT, SeatContext

    async def ask(model: Any, context: SeatContext | None) -> Any:
        token = SEAT.set(context)
        try:
            return await model.generate("Say hello.", config=InspectConfig(max_tokens=4))
        finally:
            SEAT.reset(token)

    scripted = get_model(SCRIPTED)
    with pytest.raises(Exception, match="only plays seats of the negotiation tasks"):
        asyncio.run(ask(scripted, None))
    llama = get_model("negotiation-llamacpp/smollm2")
    game = load_game(DEFAULT_GAMES_DIR / "base")
    scoring = game.scoring
    obs = Observation(phase=Phase.OPENING, index=0, seed=1, speaker="SportCo",
                      party=scoring.parties[0], issues=scoring.issues,
                      parties=tuple(p.name for p in scoring.parties), speakers=scoring.speakers,
                      proposer="SportCo")
    out = asyncio.run(ask(llama, SeatContext(game, "s1", obs)))
    assert 0 < out.usage.output_tokens <= 4 and out.usage.input_tokens > 0
    native = llama.api.backend
    while hasattr(native, "inner"):  # the retry / timeout / limit wrappers
        native = native.inner
    assert native.engine._owner == "s1:SportCo"  # the KV state of that seat
    asyncio.run(ask(llama, None))
    assert native.engine._owner is None


# -- inspect view --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_inspect_view_shows_the_sample(cli: CliRuns, tmp_path: Path) -> None:
    require_chromium()
    pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    path, server, port = cli.path, cli.viewer.process, cli.port
    session = embedded(cli.log)[0]
    url = f"http://127.0.0.1:{port}/"
    driver = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no viewer"
                time.sleep(0.3)
        driver = start_chrome(tmp_path / "profile", window="1400,1000")
        wait = WebDriverWait(driver, 30)
        sample = f"{url}#/tasks/{path.name}/samples/sample/0/1/transcript"
        driver.get(url)
        wait.until(lambda d: "Negotiation session 0" in d.find_element(By.TAG_NAME, "body").text)
        driver.get(sample)
        first = span_name(0, session.turns[0].party, session.turns[0].phase).upper()
        wait.until(lambda d: first in d.find_element(By.TAG_NAME, "body").text.upper())
        body = driver.find_element(By.TAG_NAME, "body").text
        shown = [t for t in session.turns[:4]
                 if span_name(t.index, t.speaker or t.party, t.phase).upper() in body.upper()]
        assert len(shown) == 4, body[:2000]
        assert session.turns[0].public.split("<")[0].strip() in body
        shot = tmp_path / "inspect-view-sample.png"
        assert driver.save_screenshot(str(shot))
        _not_blank(shot)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
                  and not (e["source"] == "network" and any(p in e["message"]
                                                            for p in VIEW_PROBES))]
        assert errors == []
        events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        urls = [m["params"]["request"]["url"] for m in events
                if m["method"] == "Network.requestWillBeSent"]
        assert urls and [u for u in urls if not u.startswith(LOCAL_URLS)] == []
        assert all(u.startswith(f"http://127.0.0.1:{port}/") for u in urls
                   if u.startswith(("http:", "https:", "ws:", "wss:")))
    finally:
        if driver is not None:
            driver.quit()
    cli.viewer.assert_local()


def _not_blank(path: Path) -> None:
    import matplotlib.image as mpimg

    pixels = (mpimg.imread(str(path))[..., :3].reshape(-1, 3) * 255).astype(np.int64)
    assert pixels.std() > 5
    assert len(np.unique(pixels @ np.array([65536, 256, 1]))) > 10


# -- bad input -----------------------------------------------------------------------------


def test_unknown_model_role_on_the_command_line(cli: CliRuns) -> None:
    status, output = cli.bad_role.finish()
    lines = [line for line in output.splitlines() if line.strip()]
    assert status != 0
    assert lines == ["error: negotiation/base: --model-role 'sports_co' is not a role of base "
                     "(roles: sportco, department_of_tourism, environmental_league, mayor, "
                     "other_cities, local_labour_union, p1, p2, summarizer, moderator)"]
    assert not cli.bad_logs.exists()


@pytest.mark.parametrize("task,args,message", [
    ("negotiation/game", {"game": "BROKEN"}, r"^error: negotiation/game: \S+config\.txt:2: "
                                             r"unknown role 'chair'"),
    ("negotiation/base", {"rounds": 2, "turns": 3}, r"^error: negotiation/base: unknown task "
                                                    r"option 'turns' \(options: rounds, "),
    ("negotiation/base", {"rounds": -1}, r"^error: -T rounds must be an integer from 0"),
    ("negotiation/base", {"incentives": "Nobody=greedy"}, r"^error: negotiation/base: .*Nobody"),
])
def test_bad_task_input_is_one_line_and_writes_nothing(tmp_path: Path, task: str,
                                                       args: dict[str, Any],
                                                       message: str) -> None:
    from tests.gamefactory import copy_shipped

    broken = copy_shipped(tmp_path / "games", "oss_licence")
    config = broken / "config.txt"
    lines = config.read_text().splitlines()
    config.write_text("\n".join([lines[0], lines[1].replace(",p2,", ",chair,"), *lines[2:]]))
    args = {k: (str(broken) if v == "BROKEN" else v) for k, v in args.items()}
    with pytest.raises(TaskError) as caught:
        inspect_ai.eval(task, model=SCRIPTED, task_args=args, log_dir=str(tmp_path / "logs"),
                        display="none")
    text = str(caught.value)
    assert "\n" not in text and re.search(message, text), text
    assert not (tmp_path / "logs").exists()


def test_eval_members_obey_the_log_size_limit(scripted: tuple[Path, EvalLog, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = scripted[0]
    with zipfile.ZipFile(path) as archive:
        largest = max(i.file_size for i in archive.infolist())
    monkeypatch.setenv("NEGOTIATION_MAX_LOG_BYTES", str(largest - 1))
    found = read_eval_logs(path)
    assert found.entries == [] and len(found.problems) == 1
    assert "decompressed exceed the limit" in found.problems[0]
    run = read_run(path, ReadOptions())
    assert run.sessions == [] and "decompressed" in run.errors[0]["error"]
