"""A person at the table (``human:terminal``, or ``human`` in ``--party-model "Name=human"``).

The seat shows the person exactly what a model would see: the party's system prompt (brief,
score sheet; once per speaker), then every user prompt (history, plan, instructions), rendered
from the observation. It then reads, one line each:

* a turn: the public message, a deal (``A1,B2,C3,D1,E4``; empty for none; an invalid deal is
  asked again with the reason, checked against the observation's issues) and an optional
  private plan;
* a vote: ACCEPT or REJECT (``a``/``r`` work too), then an optional one-sentence reason.

The answer goes into the log in the tagged format (``<ANSWER>message <DEAL>deal</DEAL></ANSWER>``
plus ``<PLAN>…</PLAN>``, or ``<VOTE>ACCEPT</VOTE> reason``). Format tags typed by the person are
removed, so they cannot break the structure.

Input is read through ``asyncio.to_thread`` (the event loop keeps running); end of input raises
``FatalError`` and the session is recorded as failed (resume it later). Every human seat of a
run shares one ``Terminal``, which asks one question at a time.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from negotiation.backends.base import FatalError
from negotiation.core.errors import DealError
from negotiation.core.game import Deal, Issue
from negotiation.core.phases import Phase
from negotiation.core.rules import parse_deal
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.seats import (
    Action,
    Observation,
    SeatReply,
    structured_reply,
    with_deal_tag,
)

_FORMAT_TAG = re.compile(r"<\s*/?\s*(SCRATCHPAD|ANSWER|PLAN|DEAL|VOTE)\s*>", re.I)
_VOTES = {"accept": "ACCEPT", "a": "ACCEPT", "yes": "ACCEPT", "y": "ACCEPT",
          "reject": "REJECT", "r": "REJECT", "no": "REJECT", "n": "REJECT"}
RULE = "=" * 72


def check_deal(text: str, issues: Sequence[Issue]) -> Deal:
    """The deal typed, or ``DealError`` with the reason."""
    return parse_deal(text, issues)


def clean(text: str) -> str:
    """A typed line without format tags and surrounding whitespace."""
    return _FORMAT_TAG.sub("", text).strip()


class Terminal:
    """A pair of text streams shared by every human seat; one question at a time."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout
        self.lock = asyncio.Lock()
        self.briefed: set[str] = set()

    def show(self, title: str, text: str) -> None:
        """Print a framed block."""
        self._out.write(f"\n{RULE}\n{title}\n{RULE}\n{text.rstrip()}\n")
        self._out.flush()

    def say(self, text: str) -> None:
        """Print one line."""
        self._out.write(text + "\n")
        self._out.flush()

    async def ask(self, question: str) -> str:
        """Ask one question; end of input is a ``FatalError``."""
        self._out.write(f"{question} ")
        self._out.flush()
        line = await asyncio.to_thread(self._in.readline)
        if not line:
            raise FatalError("the human player left (end of input)")
        return line.rstrip("\r\n")


class HumanSeat:
    """One party played by a person at ``terminal``."""

    def __init__(self, terminal: Terminal, prompts: PromptBuilder, systems: Mapping[str, str],
                 name: str = "terminal", key: str = "") -> None:
        self.terminal = terminal
        self.prompts = prompts
        self.systems = dict(systems)
        self.name = name
        self.key = key
        """Identifies the session, so a brief is shown once per speaker and session."""

    async def act(self, obs: Observation) -> SeatReply:
        """Show the prompt, read the person's answer."""
        system, prompt = self.systems.get(obs.speaker, ""), self.prompts.user_message(obs)
        async with self.terminal.lock:
            if f"{self.key}:{obs.speaker}" not in self.terminal.briefed:
                self.terminal.briefed.add(f"{self.key}:{obs.speaker}")
                self.terminal.show("Your brief (the system prompt, shown once)", system)
            self.terminal.show("Your turn (the prompt)", prompt)
            action = await (self._vote() if obs.phase is Phase.VOTE else self._turn(obs.issues))
        return structured_reply(action, obs, prompt, f"human:{self.name}", (system, prompt))

    async def _turn(self, issues: Sequence[Issue]) -> Action:
        message = clean(await self.terminal.ask("Your public message (one line):"))
        example = ",".join(f"{i.letter}1" for i in issues)
        deal = None
        while True:
            typed = clean(await self.terminal.ask(f"Your deal (e.g. {example}; empty for none):"))
            if not typed:
                break
            try:
                deal = check_deal(typed, issues)
                break
            except DealError as err:
                self.terminal.say(f"Invalid deal: {err}. Try again.")
        plan = clean(await self.terminal.ask("Private plan for your next turn (optional):"))
        return Action(public=with_deal_tag(message, deal), deal=deal, plan=plan)

    async def _vote(self) -> Action:
        while True:
            word = clean(await self.terminal.ask("Your vote (ACCEPT or REJECT):")).lower()
            if word in _VOTES:
                break
            self.terminal.say("Please type ACCEPT or REJECT.")
        reason = clean(await self.terminal.ask("One sentence explaining your vote (optional):"))
        return Action(public=reason, vote=_VOTES[word])  # type: ignore[arg-type]
