"""A person at the table (``human:terminal``, or ``human`` in ``--party-model "Name=human"``).

The backend shows the person exactly what a model would see: the party's system prompt (brief,
score sheet; once per party and session, recognised by ``GenerateConfig.cache_key``), then every
user prompt (history, plan, instructions). It then reads, one line each:

* a turn: the public message, a deal (``A1,B2,C3,D1,E4``; empty for none; an invalid deal is
  asked again with the reason) and an optional private plan;
* a vote (the prompt contains ``<VOTE>``): ACCEPT or REJECT (``a``/``r`` work too), then an
  optional one-sentence reason.

The answer is returned in the tagged format the parser expects
(``<ANSWER>message <DEAL>deal</DEAL></ANSWER>`` plus ``<PLAN>…</PLAN>``, or
``<VOTE>ACCEPT</VOTE> reason``), so the rest of the pipeline treats the turn like any other.
Format tags typed by the person are removed, so they cannot break the structure. Deals are
checked against the options listed in the system prompt (``A1: …`` lines); when a custom prompt
lists none, any ``A1,B2,…`` pattern is accepted and the pipeline's parser judges it.

Input is read through ``asyncio.to_thread`` (the event loop keeps running); end of input raises
``FatalError`` and the session is recorded as failed (resume it later). A person is slow and
not transient: the backend is ``local`` (no timeout) and takes one call at a time.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import TextIO

from negotiation.backends.base import Backend, Completion, FatalError, GenerateConfig, Message
from negotiation.core.errors import DealError
from negotiation.core.game import Issue
from negotiation.core.rules import parse_deal

_OPTION_LINE = re.compile(r"^\s*([A-Z])([0-9]{1,3})\s*:", re.M)
_LOOSE_DEAL = re.compile(r"^[A-Za-z]\s*[0-9]{1,3}(\s*[,; ]\s*[A-Za-z]\s*[0-9]{1,3})*$")
_FORMAT_TAG = re.compile(r"<\s*/?\s*(SCRATCHPAD|ANSWER|PLAN|DEAL|VOTE)\s*>", re.I)
_VOTES = {"accept": "ACCEPT", "a": "ACCEPT", "yes": "ACCEPT", "y": "ACCEPT",
          "reject": "REJECT", "r": "REJECT", "no": "REJECT", "n": "REJECT"}
RULE = "=" * 72


def issues_from_prompt(system: str) -> tuple[Issue, ...]:
    """The issues listed in a system prompt (``A1: …`` lines), empty when none are listed."""
    options: dict[str, int] = {}
    for letter, number in _OPTION_LINE.findall(system):
        options[letter] = max(options.get(letter, 0), int(number))
    return tuple(Issue(letter, n) for letter, n in sorted(options.items()))


def check_deal(text: str, issues: tuple[Issue, ...]) -> str:
    """The normalised deal (``A1,B2,…``) or ``DealError`` with the reason."""
    if issues:
        return str(parse_deal(text, issues))
    if not _LOOSE_DEAL.match(text.strip()):
        raise DealError(f"{text[:40]!r} is not a deal like A1,B2,C3")
    tokens = re.findall(r"([A-Za-z])\s*([0-9]{1,3})", text)
    return ",".join(f"{letter.upper()}{number}" for letter, number in tokens)


def clean(text: str) -> str:
    """A typed line without format tags and surrounding whitespace."""
    return _FORMAT_TAG.sub("", text).strip()


class HumanBackend(Backend):
    """A person typing in a terminal (or any pair of text streams, for scripts and tests)."""

    local = True

    def __init__(self, name: str = "terminal", stdin: TextIO | None = None,
                 stdout: TextIO | None = None) -> None:
        self.name = name
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout
        self._issues: dict[str, tuple[Issue, ...]] = {}

    @property
    def max_concurrency(self) -> int:
        """One person answers one prompt at a time."""
        return 1

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        """Show the prompt, read the person's answer and return it in the tagged format."""
        system = "\n".join(m.content for m in messages if m.role == "system")
        prompt = messages[-1].content if messages and messages[-1].role == "user" else ""
        key = config.cache_key or system
        if key not in self._issues:
            self._issues[key] = issues_from_prompt(system)
            self._show("Your brief (the system prompt, shown once)", system)
        self._show("Your turn (the prompt)", prompt)
        if "<VOTE>" in prompt:
            text = await self._vote()
        else:
            text = await self._turn(self._issues[key])
        words = sum(len(m.content.split()) for m in messages)
        return Completion(text=text, input_tokens=words, output_tokens=len(text.split()),
                          finish_reason="stop", model_id=f"human:{self.name}")

    def _show(self, title: str, text: str) -> None:
        self._out.write(f"\n{RULE}\n{title}\n{RULE}\n{text.rstrip()}\n")
        self._out.flush()

    async def _ask(self, question: str) -> str:
        self._out.write(f"{question} ")
        self._out.flush()
        line = await asyncio.to_thread(self._in.readline)
        if not line:
            raise FatalError("the human player left (end of input)")
        return line.rstrip("\r\n")

    async def _turn(self, issues: tuple[Issue, ...]) -> str:
        message = clean(await self._ask("Your public message (one line):"))
        example = ",".join(f"{i.letter}1" for i in issues) or "A1,B2,C3"
        deal = ""
        while True:
            typed = clean(await self._ask(f"Your deal (e.g. {example}; empty for none):"))
            if not typed:
                break
            try:
                deal = check_deal(typed, issues)
                break
            except DealError as err:
                self._out.write(f"Invalid deal: {err}. Try again.\n")
        plan = clean(await self._ask("Private plan for your next turn (optional):"))
        body = " ".join(part for part in (message, f"<DEAL>{deal}</DEAL>" if deal else "") if part)
        text = f"<ANSWER>{body}</ANSWER>"
        return text + (f"\n<PLAN>{plan}</PLAN>" if plan else "")

    async def _vote(self) -> str:
        while True:
            word = clean(await self._ask("Your vote (ACCEPT or REJECT):")).lower()
            if word in _VOTES:
                break
            self._out.write("Please type ACCEPT or REJECT.\n")
        reason = clean(await self._ask("One sentence explaining your vote (optional):"))
        return f"<VOTE>{_VOTES[word]}</VOTE> {reason}".rstrip()


def create(model: str, base_url: str | None = None) -> Backend:
    """Factory used by the registry: ``human:<name>`` (``human:terminal``); no base URL."""
    return HumanBackend(model)
