"""The live view of a running sweep (``report RUN --serve --live``).

* The state model and its endpoints on a run folder with a finished session and a real journal
  (a finished session cut back to its first turns with the journal writer ``JournalSink``):
  statuses, turn counts, the latest deal and every party's score for it by the rules core;
  only changed files are read again; the server answers its four routes and nothing else.
* Headless Chromium (as ``test_report_browser.py``: Selenium, /usr/bin/chromium, offline flags)
  against a sweep running in the test (a subprocess against the loopback fake LLM server): a
  session page gains turns without a reload, no JavaScript error, every request goes to the
  live server itself (or ``data:``/``about:``), and log text shows as text.
* The static report keeps its CSP (no ``connect-src``) and its pages.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluation.site import build_site
from evaluation.site.live import LiveRun, LiveServer, latest_deal, live_policy, make_live_server
from evaluation.site.render import STATIC, content_security_policy
from negotiation.core.rules import accepts, score
from negotiation.logs.journal import JournalSink
from negotiation.logs.reading import load_logs
from negotiation.logs.records import SessionLog
from negotiation.protocol.progress import total_steps
from negotiation_cli import main
from tests.browser import HINT, chromium_present, start_chrome
from tests.fakes.fake_llm_server import FakeLLMServer
from tests.fakes.negotiation_replies import replies
from tests.reportsite import HOSTILE, HOSTILE_ID, add_hostile_session, scripted_run

ROOT = Path(__file__).resolve().parent.parent
LOCAL_SCHEMES = ("data:", "about:")
CUT = 5  # turns kept in the journal made from a finished session

if os.environ.get("CI") and not chromium_present():
    raise RuntimeError("CI must run the browser test: scripts/install.sh --test installs Chromium")


# -- a run folder with a finished session and a journal -------------------------------------

def write_journal(log: SessionLog, path: Path, turns: int) -> JournalSink:
    """The journal of ``log`` as it was after ``turns`` turns, written by the journal writer."""
    head = log.model_copy(deep=True)
    head.turns, head.status, head.final_deal = [], "running", None
    head.threshold_outcome = head.vote_outcome = head.outcomes_differ = None
    head.final_scores = {}
    sink = JournalSink(path)

    async def write() -> None:
        await sink.begin(head)
        for turn in log.turns[:turns]:
            head.turns.append(turn)
            await sink.turn(head, turn)

    asyncio.run(write())
    return sink


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scripted_run(tmp_path_factory.mktemp("live") / "runs")


@pytest.fixture
def partial(scripted: Path, tmp_path: Path) -> tuple[Path, SessionLog, SessionLog, JournalSink]:
    """A copy of the run whose second session is a journal of its first CUT turns."""
    run = Path(shutil.copytree(scripted, tmp_path / "r"))
    done, cut = load_logs(run).logs
    path = run / f"session-{cut.session_id}.json"
    sink = write_journal(cut, path, CUT)
    path.unlink()
    return run, done, cut, sink


def expected_row(log: SessionLog, turns: int) -> dict[str, Any]:
    """The session's status, progress and current deal with the rules core's scores."""
    shown = log.model_copy(update={"turns": log.turns[:turns]})
    turn = latest_deal(shown)
    assert turn is not None and turn.deal is not None
    parties = log.scoring().parties
    assert turn.index == max(t.index for t in shown.turns if t.phase.is_public and t.deal)
    return {"turns": turns, "total": total_steps(log), "deal": str(turn.deal),
            "scores": [score(turn.deal, p) for p in parties],
            "clears": [accepts(turn.deal, p) for p in parties]}


def actual_row(row: dict[str, Any]) -> dict[str, Any]:
    return {"turns": row["turns"], "total": row["total"], "deal": row["deal"],
            "scores": [p["score"] for p in row["parties"]],
            "clears": [p["clears"] for p in row["parties"]]}


def test_state_lists_finished_and_running_sessions(partial: Any) -> None:
    run, done, cut, _ = partial
    live = LiveRun(run)
    state = live.state()
    assert state["problems"] == [] and state["run"] == run.name
    rows = {s["id"]: s for s in state["sessions"]}
    assert list(rows) == [done.session_id, cut.session_id]
    assert rows[done.session_id]["status"] == "complete"
    assert rows[cut.session_id]["status"] == "running"
    assert actual_row(rows[done.session_id]) == expected_row(done, len(done.turns))
    assert actual_row(rows[cut.session_id]) == expected_row(cut, CUT)
    assert rows[cut.session_id]["turns"] < rows[cut.session_id]["total"]
    page = live.session(cut.session_id, since=2)
    assert page is not None and page["count"] == CUT
    assert [t["index"] for t in page["turns"]] == [t.index for t in cut.turns[2:CUT]]
    assert [t["public"] for t in page["turns"]] == [t.public for t in cut.turns[2:CUT]]
    assert live.session("no-such-session") is None


def test_only_changed_files_are_read_again(partial: Any) -> None:
    run, done, cut, sink = partial
    live = LiveRun(run)
    live.refresh()
    assert live.reads == 2 and live.refresh() is False and live.reads == 2
    journal = run / f"session-{cut.session_id}.jsonl"
    head = cut.model_copy(update={"turns": list(cut.turns[:CUT])})
    asyncio.run(sink.turn(head, cut.turns[CUT]))
    with journal.open("ab") as handle:            # a torn last line, as a crash leaves it
        handle.write(b'{"turn":{"index":')
    assert live.refresh() is True and live.reads == 3
    row = next(s for s in live.state()["sessions"] if s["id"] == cut.session_id)
    assert actual_row(row) == expected_row(cut, CUT + 1)
    asyncio.run(sink.save(cut))                   # the session ends: the journal is compacted
    assert not journal.exists()
    state = live.state()
    row = next(s for s in state["sessions"] if s["id"] == cut.session_id)
    assert row["status"] == "complete" and actual_row(row) == expected_row(cut, len(cut.turns))
    assert live.reads == 4 and state["problems"] == []


def _get(url: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture
def served(partial: Any, tmp_path: Path) -> Iterator[tuple[LiveServer, Any]]:
    server = make_live_server(partial[0], tmp_path / "site", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, partial
    server.shutdown()
    server.server_close()


def test_server_routes_and_headers(served: tuple[LiveServer, Any]) -> None:
    server, (run, done, cut, _) = served
    status, headers, body = _get(server.url + "state.json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == server.live.state()
    tag = headers["ETag"]
    request = urllib.request.Request(server.url + "state.json", headers={"If-None-Match": tag})
    with pytest.raises(urllib.error.HTTPError) as unchanged:
        urllib.request.urlopen(request, timeout=10)
    assert unchanged.value.code == 304
    status, _, body = _get(server.url + f"session/{cut.session_id}.json?since=0")
    assert status == 200 and json.loads(body)["count"] == CUT
    assert _get(server.url + "session/nope.json")[0] == 404
    assert _get(server.url + "../state.json")[0] == 404
    assert _get(server.url.replace("/live/", "/etc/passwd"))[0] == 404
    assert _get(server.url + "state.json", host="attacker.example:80")[0] == 421
    for page in ("", "index.html", "session.html?id=x"):
        status, headers, body = _get(server.url + page)
        html = body.decode()
        assert status == 200 and headers["Content-Security-Policy"] == live_policy()
        meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
        assert meta is not None and unescape(meta.group(1)) == live_policy()
        assert done.parties[0].name not in html      # the pages hold no log text
    status, headers, _ = _get(server.url.replace("/live/", "/"))
    assert status == 200                             # redirected to /live/
    written = server.live.root.parent / "site" / "live"   # the pages, as --out receives them
    assert sorted(p.name for p in written.iterdir()) == ["index.html", "session.html"]


def test_report_live_arguments(scripted: Path, tmp_path: Path) -> None:
    assert main(["report", str(scripted), "--live"]) == 2                      # needs --serve
    assert main(["report", str(scripted), str(scripted), "--serve", "--live"]) == 2
    assert main(["report", str(scripted)]) == 2                                # --out needed
    files = sorted(scripted.glob("session-*.json"))
    assert main(["report", str(files[0]), "--serve", "--live"]) == 2          # a folder only


# -- the static report is unchanged ---------------------------------------------------------

def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_static_report_csp_is_unchanged(scripted: Path, tmp_path: Path) -> None:
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    js = (STATIC / "site.js").read_text(encoding="utf-8")
    static = (f"default-src 'none'; img-src data:; style-src {_hash(css)}; "
              f"script-src {_hash(js)}; base-uri 'none'; form-action 'none'")
    assert content_security_policy(css, js) == static
    assert content_security_policy(css, js, live=False) == static
    live_js = (STATIC / "live.js").read_text(encoding="utf-8")
    assert live_policy() == static.replace(_hash(js), _hash(live_js)).replace(
        "base-uri", "connect-src 'self'; base-uri")
    written = build_site([scripted], tmp_path / "site")
    pages = [p for p in written if p.suffix == ".html"]
    assert pages and not (tmp_path / "site" / "live").exists()
    for page in pages:
        html = page.read_text(encoding="utf-8")
        meta = re.findall(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
        assert [unescape(m) for m in meta] == [static]
        assert "connect-src" not in html and "fetch(" not in html


# -- in Chromium, against a running sweep ---------------------------------------------------

@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (bash scripts/install_browser.sh)")
    if not chromium_present():
        pytest.skip(HINT)
    chrome = start_chrome(tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.quit()


@contextmanager
def serving(driver: Any, run: Path, site: Path) -> Iterator[LiveServer]:
    """The live server of ``run`` in a thread; at the end the browser leaves its pages first
    (a page left open would go on polling and log a refused connection)."""
    server = make_live_server(run, site, 0, poll_ms=1000)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        driver.get("about:blank")
        server.shutdown()
        server.server_close()


def assert_quiet(driver: Any, server: LiveServer) -> list[str]:
    """No alert, no SEVERE console entry; every request to the live server (or data:/about:)."""
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in events
            if m["method"] == "Network.requestWillBeSent"]
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    assert urls and [u for u in urls if not u.startswith((origin, *LOCAL_SCHEMES))] == []
    return urls


def screenshot(driver: Any, path: Path) -> None:
    """Save a screenshot and check it holds more than one colour."""
    import matplotlib.image as mpimg

    assert driver.save_screenshot(str(path))
    pixels = (mpimg.imread(str(path))[..., :3].reshape(-1, 3) * 255).astype(np.int64)
    assert pixels.std() > 5 and len(np.unique(pixels @ np.array([65536, 256, 1]))) > 10


def page_turns(driver: Any) -> tuple[int, str]:
    """The number of turn rows shown and the session status shown, read at one moment."""
    count, status = driver.execute_script(
        "return [document.querySelectorAll('#turns article.turn').length,"
        " document.getElementById('session-status').textContent];")
    return int(count), str(status)


def running_session(live: LiveRun) -> dict[str, Any] | None:
    return next((s for s in live.state()["sessions"]
                 if s["status"] == "running" and s["turns"] >= 1), None)


@contextmanager
def running_sweep(out: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The sweep of the task as a subprocess against the loopback fake LLM server (~5 s)."""
    with FakeLLMServer(replies(max_delay_s=0.3, seed=1)) as fake, \
            (out / "sweep.err").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "main.py", "--game", "base", "--model",
             f"openai:fake@{fake.openai_base_url}", "--rounds", "12", "--no-vote",
             "--sessions", "2", "--concurrency", "2", "--out", str(out / "runs"),
             "--name", "live", "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_session_page_gains_turns_while_a_sweep_runs(driver: Any, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "live"
    with serving(driver, run, tmp_path / "site") as server:
        check_live_sweep(driver, server, tmp_path)


def check_live_sweep(driver: Any, server: LiveServer, tmp_path: Path) -> None:
    """Open a running session's page; it gains turns by itself until the session completes."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60, poll_frequency=0.05)
    with running_sweep(tmp_path) as proc:
        session = wait.until(lambda _: running_session(server.live))
        driver.get_log("browser")
        driver.get_log("performance")
        driver.get(server.url + f"session.html?id={session['id']}")
        first, status = wait.until(lambda d: page_turns(d)[0] > 0 and page_turns(d))
        assert status == "running" and first < session["total"]
        wait.until(lambda d: page_turns(d)[0] > first)          # no reload: the page polls
        wait.until(lambda d: page_turns(d)[1] == "complete")
        assert proc.wait(timeout=60) == 0, (tmp_path / "sweep.err").read_text()
    log = next(lg for lg in load_logs(server.live.root).logs if lg.session_id == session["id"])
    assert page_turns(driver) == (len(log.turns), "complete")
    messages = driver.find_elements(By.CSS_SELECTOR, "#turns article.turn pre.msg")
    assert [m.text for m in messages] == [t.public for t in log.turns]
    assert driver.find_element(By.ID, "session-deal").text.startswith(str(latest_deal(log).deal))
    screenshot(driver, tmp_path / "live-session.png")
    urls = assert_quiet(driver, server)
    assert sum(f"/live/session/{session['id']}.json" in u for u in urls) >= 3
    driver.get(server.url)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                             "tr.session-row[data-status=complete]")) == 2)
    rows = driver.find_elements(By.CSS_SELECTOR, "tr.session-row")
    assert all(f"{total_steps(log)} / {total_steps(log)}" in r.text for r in rows)
    screenshot(driver, tmp_path / "live-index.png")
    assert any(u.endswith("/live/state.json") for u in assert_quiet(driver, server))


def test_log_text_shows_as_text(driver: Any, scripted: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(scripted, tmp_path / "r"))
    add_hostile_session(run)
    log = next(lg for lg in load_logs(run).logs if lg.session_id == HOSTILE_ID)
    with serving(driver, run, tmp_path / "site") as server:
        driver.get_log("browser")
        driver.get_log("performance")
        driver.get(server.url + f"session.html?id={HOSTILE_ID}")
        check_hostile_page(driver, server, log)


def check_hostile_page(driver: Any, server: LiveServer, log: SessionLog) -> None:
    """HTML in a logged message shows as text; nothing is injected."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30, poll_frequency=0.05).until(
        lambda d: page_turns(d)[0] == len(log.turns))
    message = driver.find_element(By.CSS_SELECTOR, "#turn-1 pre.msg")
    assert message.text == log.turns[1].public and HOSTILE in message.text
    assert message.find_element(By.CSS_SELECTOR, "mark.deal").text.startswith("<DEAL>")
    assert driver.find_elements(By.CSS_SELECTOR, "main img, main script") == []
    assert_quiet(driver, server)
