"""Renders every prompt from Jinja2 templates (``templates.py`` holds the sandboxed environment).

Game and model text is passed in as data and is never itself rendered as a template. The parts of
a prompt that are the same on every turn of a party (its variables, its scratchpad instructions,
its reply format) are computed once per game and reused: rendering is most of the harness's own
time per model call.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

from negotiation.core.game import Game, Party
from negotiation.core.phases import Phase
from negotiation.core.rules import UNANIMITY_BONUS, required_supporters
from negotiation.protocol.seats import Observation, PublicMessage
from negotiation.protocol.templates import make_environment, plural, render, template_exists

__all__ = ["PromptBuilder", "make_environment", "plural", "preview_observation",
           "prompt_builder", "render"]

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


_BUILDERS: collections.OrderedDict[int, PromptBuilder] = collections.OrderedDict()
_MAX_BUILDERS = 64


def prompt_builder(game: Game) -> PromptBuilder:
    """The builder of ``game`` (one per game object, the last 64 kept): every session of a
    sweep shares its game's per-party variables and template lookups."""
    builder = _BUILDERS.get(id(game))
    if builder is None or builder.game is not game:  # the builder keeps its game alive
        builder = _BUILDERS[id(game)] = PromptBuilder(game)
        while len(_BUILDERS) > _MAX_BUILDERS:
            _BUILDERS.popitem(last=False)
    return builder


class PromptBuilder:
    """Renders the prompts of one game; one instance per game (templates are cached)."""

    def __init__(self, game: Game) -> None:
        self.game = game
        self.env = make_environment(game.prompts_dir)
        self._contexts: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._templates: dict[str, str] = {}
        self._parts: dict[tuple[Any, ...], str] = {}

    def _context(self, party: Party, speaker: str | None = None, **extra: Any) -> dict[str, Any]:
        key = (party.name, speaker)
        if key not in self._contexts:  # the same for every turn of the party (the game is frozen)
            self._contexts[key] = party_context(self.game, party, speaker)
        return {**self._contexts[key], **extra}

    def _first(self, *names: str) -> str:
        """The first of ``names`` that exists (looked up once per builder)."""
        key = "|".join(names)
        if key not in self._templates:
            self._templates[key] = next((n for n in names[:-1] if template_exists(self.env, n)),
                                        names[-1])
        return self._templates[key]

    def incentive_template(self, party: Party) -> str | None:
        """``incentives/<name>.j2`` if the game or library has it, else None."""
        name = f"incentives/{party.incentive}.j2"
        return name if template_exists(self.env, name) else None

    def initial(self, party: Party, speaker: str | None = None) -> str:
        """The system prompt: global instructions, brief, rules, incentive, vetoes (rendered
        once per party and speaker)."""
        key = ("initial.j2", party.name, speaker)
        if key not in self._parts:
            self._parts[key] = self._initial(party, speaker)
        return self._parts[key]

    def _initial(self, party: Party, speaker: str | None) -> str:
        return render(self.env, "initial.j2", self._context(
            party, speaker,
            global_instructions=mark_self(self.game.global_instructions, party.name,
                                          party.count - 1).strip(),
            brief=self.game.briefs[party.name].strip(),
            incentive_template=self.incentive_template(party),
        ))

    def _part(self, name: str, party: Party, me: str, **variables: Any) -> str:
        """A template rendered once per party, speaker and ``variables`` (the scratchpad and
        reply-format paragraphs, the same on every turn of the same kind)."""
        key = (name, party.name, me, tuple(sorted(variables.items())))
        if key not in self._parts:
            self._parts[key] = render(self.env, name, self._context(party, me, **variables),
                                      part=True)
        return self._parts[key]

    def _fixed(self, party: Party, me: str, turn: str, structured: str,
               final_turn: bool) -> dict[str, Any]:
        """The turn-independent variables of a party prompt, rendered parts included."""
        scratch = self._first(f"scratchpads/{party.incentive}.j2", "scratchpads/default.j2")
        kind = {"turn": turn, "structured": structured, "final_turn": final_turn}
        return {**kind, "scratchpad_template": scratch,
                "scratchpad": self._part(scratch, party, me),
                "reply_format": self._part("format.j2", party, me, **kind)}

    def round(self, party: Party, history: Sequence[PublicMessage], plan: str,
              final_turn: bool, summaries: Sequence[str] = (), speaker: str | None = None,
              structured: str = "off") -> str:
        """The per-turn user message: history window, own plan, reasoning and format."""
        me = speaker or party.speakers[0]
        return render(self.env, "round.j2", self._context(
            party, me, history=self._history(me, history), summaries=list(summaries),
            plan=plan.strip(), **self._fixed(party, me, "round", structured, final_turn)))

    def opening(self, party: Party, structured: str = "off") -> str:
        """p1's round-0 prompt: present the opening deal."""
        me = party.speakers[0]
        return render(self.env, "opening.j2", self._context(
            party, me, **self._fixed(party, me, "opening", structured, False)))

    def final(self, party: Party, history: Sequence[PublicMessage], plan: str,
              summaries: Sequence[str] = (), structured: str = "off") -> str:
        """p1's final prompt: state the official deal put to the vote."""
        me = party.speakers[0]
        return render(self.env, "final.j2", self._context(
            party, me, history=self._history(me, history), plan=plan.strip(),
            summaries=list(summaries), **self._fixed(party, me, "final", structured, True)))

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

