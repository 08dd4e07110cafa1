"""Renders every prompt from Jinja2 templates in a sandbox.

Game folders may come from strangers and may override templates (their ``prompts/`` folder), so
templates run in a ``SandboxedEnvironment`` with ``StrictUndefined``: an unknown variable or a
forbidden attribute is a ``TemplateError``, never silent text. Game and model text is passed
in as data and is never itself rendered as a template.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from negotiation.core.errors import TemplateError
from negotiation.core.files import UnsafeFileError, game_file_limit, read_inside
from negotiation.core.game import Game, Party
from negotiation.core.phases import Phase
from negotiation.core.rules import UNANIMITY_BONUS, required_supporters
from negotiation.protocol.seats import Observation, PublicMessage

LIBRARY_PROMPTS = Path(__file__).resolve().parent / "prompts"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``plural(5, "party", "parties")`` -> ``"5 parties"``; ``plural(1, "party")`` -> ``"1 party"``."""
    word = singular if n == 1 else (plural_form or singular + "s")
    return f"{n} {word}"


class FolderLoader(jinja2.BaseLoader):
    """Templates from one folder, read like every game file: only regular files inside the
    folder (a symlink out of it, a FIFO or a device is refused), at most 1 MB each."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.root.joinpath(*jinja2.loaders.split_template_path(template))
        if not (path.exists() or path.is_symlink()):
            raise jinja2.TemplateNotFound(template)
        try:
            text = read_inside(path, self.root, game_file_limit()).decode("utf-8")
        except UnsafeFileError as err:
            raise TemplateError(f"{path}: {err.reason}") from None
        except UnicodeDecodeError as err:
            raise TemplateError(f"{path}: not valid UTF-8 ({err.reason})") from None
        mtime = path.stat().st_mtime
        return text, str(path), lambda: path.exists() and path.stat().st_mtime == mtime


@functools.lru_cache(maxsize=64)
def make_environment(game_prompts: Path | None = None) -> SandboxedEnvironment:
    """A sandboxed environment reading the game's templates first, then the library's
    (cached per prompts folder: compiling the templates costs ~20 ms)."""
    loaders: list[jinja2.BaseLoader] = []
    if game_prompts is not None:
        loaders.append(FolderLoader(game_prompts))
    loaders.append(FolderLoader(LIBRARY_PROMPTS))
    env = SandboxedEnvironment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                               autoescape=False, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=False)
    env.filters["plural"] = plural
    env.globals["plural"] = plural
    env.filters["slot"] = lambda issue: f"{issue['letter']}?"
    env.filters["option_range"] = lambda issue: (f"{issue['letter']}: one of "
                                                 f"{issue['options'][0]}-{issue['options'][-1]}")
    return env


def template_exists(env: jinja2.Environment, name: str) -> bool:
    """Whether a template (e.g. ``incentives/greedy.j2``) exists in the game or library."""
    try:
        env.get_template(name)
    except jinja2.TemplateNotFound:
        return False
    return True


def render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render a template, turning every Jinja2 failure into a ``TemplateError``."""
    try:
        return env.get_template(name).render(**context).strip() + "\n"
    except jinja2.TemplateNotFound as err:
        raise TemplateError(f"template {err.name!r} not found") from None
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"{err.filename or name}:{err.lineno}: {err.message}") from None
    except jinja2.UndefinedError as err:
        where = _failing_template(err, name)
        raise TemplateError(f"{where}: undefined variable: {err.message}") from None
    except SecurityError as err:
        where = _failing_template(err, name)
        raise TemplateError(f"{where}: forbidden by the template sandbox: {err}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as err:
        where = _failing_template(err, name)
        raise TemplateError(f"{where}: template failed: {type(err).__name__}: {err}") from None


def _failing_template(err: BaseException, default: str) -> str:
    """The template file (and line) where a rendering error happened, from the traceback."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.endswith(".j2")]
    if not frames:
        return default
    return f"{frames[-1].filename}:{frames[-1].lineno}"


def mark_self(global_text: str, name: str, colleagues: int = 0) -> str:
    """Every ``"Name"`` of the party itself becomes ``"Name" (represented by you)`` (``by you
    and your colleague(s)`` when it has several representatives)."""
    who = "you" if not colleagues else \
        f"you and your {'colleague' if colleagues == 1 else f'{colleagues} colleagues'}"
    return global_text.replace(f'"{name}"', f'"{name}" (represented by {who})')


def party_context(game: Game, party: Party, speaker: str | None = None) -> dict[str, Any]:
    """Variables shared by every template rendered for ``party`` (as ``speaker``, one of its
    representatives, when it has several)."""
    scoring = game.scoring
    others = [p.name for p in scoring.parties if p.name != party.name]
    target = scoring.target
    me = speaker or party.speakers[0]
    return {
        "me": {"name": me, "party": party.name, "role": party.role, "incentive": party.incentive,
               "minimum": party.minimum, "is_proposer": party.name == scoring.proposer.name,
               "colleagues": [s for s in party.speakers if s != me]},
        "others": others,
        "n_parties": len(scoring.parties),
        "n_others": len(others),
        "proposer": scoring.proposer.name,
        "has_p1": scoring.has_p1,
        "vetoes": [p.name for p in scoring.vetoes],
        "required": required_supporters(scoring),
        "target": target.name if target is not None else None,
        "bonus": UNANIMITY_BONUS,
        "issues": [{"letter": i.letter, "n_options": i.n_options,
                    "options": [i.option_name(k) for k in range(1, i.n_options + 1)]}
                   for i in scoring.issues],
        "initial_deal": str(game.initial_deal),
    }


def preview_observation(game: Game, party: Party, speaker: str, phase: Phase) -> Observation:
    """What ``party`` (as ``speaker``) would observe early in a session: after p1's opening
    for discussion and final turns; the opening deal put to the vote for a vote."""
    scoring, deal = game.scoring, game.initial_deal
    opening = PublicMessage(0, scoring.proposer.speakers[0], scoring.proposer.name,
                            f"<DEAL>{deal}</DEAL>", deal)
    is_vote = phase is Phase.VOTE
    return Observation(
        phase=phase, index=1, seed=0, speaker=speaker, party=party, issues=scoring.issues,
        parties=tuple(p.name for p in scoring.parties), speakers=scoring.speakers,
        proposer=scoring.proposer.name, vetoes=tuple(v.name for v in scoring.vetoes),
        required=required_supporters(scoring),
        history=(opening,) if phase in (Phase.ROUND, Phase.FINAL) else (),
        deal=deal if phase is Phase.OPENING or is_vote else None,
        own_score=sum(party.score_of(i, k) for i, k in enumerate(deal.options)) if is_vote
        else None)


class PromptBuilder:
    """Renders the prompts of one game; one instance per game (templates are cached)."""

    def __init__(self, game: Game) -> None:
        self.game = game
        self.env = make_environment(game.prompts_dir)

    def _context(self, party: Party, speaker: str | None = None, **extra: Any) -> dict[str, Any]:
        return {**party_context(self.game, party, speaker), **extra}

    def incentive_template(self, party: Party) -> str | None:
        """``incentives/<name>.j2`` if the game or library has it, else None."""
        name = f"incentives/{party.incentive}.j2"
        return name if template_exists(self.env, name) else None

    def initial(self, party: Party, speaker: str | None = None) -> str:
        """The system prompt: global instructions, brief, rules, incentive, vetoes."""
        return render(self.env, "initial.j2", self._context(
            party, speaker,
            global_instructions=mark_self(self.game.global_instructions, party.name,
                                          party.count - 1).strip(),
            brief=self.game.briefs[party.name].strip(),
            incentive_template=self.incentive_template(party),
        ))

    def round(self, party: Party, history: Sequence[PublicMessage], plan: str,
              final_turn: bool, summaries: Sequence[str] = (), speaker: str | None = None,
              structured: str = "off") -> str:
        """The per-turn user message: history window, own plan, reasoning and format."""
        scratch = f"scratchpads/{party.incentive}.j2"
        if not template_exists(self.env, scratch):
            scratch = "scratchpads/default.j2"
        me = speaker or party.speakers[0]
        return render(self.env, "round.j2", self._context(
            party, me, history=self._history(me, history), summaries=list(summaries),
            plan=plan.strip(), final_turn=final_turn, scratchpad_template=scratch,
            turn="round", structured=structured))

    def opening(self, party: Party, structured: str = "off") -> str:
        """p1's round-0 prompt: present the opening deal."""
        return render(self.env, "opening.j2", self._context(
            party, turn="opening", structured=structured, final_turn=False))

    def final(self, party: Party, history: Sequence[PublicMessage], plan: str,
              summaries: Sequence[str] = (), structured: str = "off") -> str:
        """p1's final prompt: state the official deal put to the vote."""
        me = party.speakers[0]
        return render(self.env, "final.j2", self._context(
            party, me, history=self._history(me, history), plan=plan.strip(),
            summaries=list(summaries), turn="final", structured=structured, final_turn=True))

    def _history(self, me: str, history: Sequence[PublicMessage]) -> list[dict[str, str]]:
        return [{"speaker": f"You ({me})" if h.speaker == me else h.speaker, "text": h.text}
                for h in history]

    def _neutral(self, name: str, **extra: Any) -> str:
        return render(self.env, name, {"parties": [p.name for p in self.game.parties], **extra})

    def summarizer(self, previous: str, history: Sequence[PublicMessage]) -> tuple[str, str]:
        """(system, user) messages asking the summarizer for a neutral running summary."""
        entries = [{"speaker": h.speaker, "text": h.text} for h in history]
        return (self._neutral("summarizer_system.j2"),
                self._neutral("summarizer.j2", previous=previous, history=entries))

    def moderator(self, history: Sequence[PublicMessage], previous: str,
                  candidates: Sequence[str], structured: str = "off") -> tuple[str, str]:
        """(system, user) messages asking the moderator who speaks next."""
        entries = [{"speaker": h.speaker, "text": h.text} for h in history]
        return (self._neutral("moderator_system.j2"),
                self._neutral("moderator.j2", history=entries, previous=previous,
                              candidates=list(candidates), structured=structured))

    def vote(self, party: Party, deal: str, own_score: int, structured: str = "off") -> str:
        """The vote prompt: the final deal with the party's own score for it."""
        return render(self.env, "vote.j2", self._context(party, deal=deal, own_score=own_score,
                                                         structured=structured))

    def user_message(self, obs: Observation, structured: str = "off") -> str:
        """The user message of a party's turn, rendered from its observation (``structured``:
        the seat's resolved mode, which changes only the format paragraph)."""
        party = obs.party
        if party is None:
            raise ValueError(f"{obs.speaker} is a helper seat: use helper_messages")
        if obs.phase is Phase.OPENING:
            return self.opening(party, structured)
        if obs.phase is Phase.FINAL:
            return self.final(party, obs.history, obs.plan, obs.summaries, structured)
        if obs.phase is Phase.VOTE:
            if obs.deal is None or obs.own_score is None:
                raise ValueError("a vote observation needs the deal and its own score")
            return self.vote(party, str(obs.deal), obs.own_score, structured)
        return self.round(party, obs.history, obs.plan, obs.final_turn, obs.summaries,
                          obs.speaker, structured)

    def helper_messages(self, obs: Observation, structured: str = "off") -> tuple[str, str]:
        """(system, user) messages of a helper seat's turn, rendered from its observation."""
        if obs.phase is Phase.SUMMARY:
            previous = obs.summaries[-1] if obs.summaries else ""
            return self.summarizer(previous, obs.new_messages)
        if obs.phase is Phase.MODERATOR:
            return self.moderator(obs.history, obs.previous, obs.candidates, structured)
        raise ValueError(f"{obs.phase.value} is a party phase: use user_message")

