"""The protocol of the paper: who speaks when, what each seat observes, what it is shown, how
its text is read, how a session ends.

Public API: ``Observation``, ``Action``, ``SeatReply``, ``Seat`` (the seat contract);
``PromptBuilder`` (Jinja2 templates); ``parse_output``, ``parse_vote``, ``read_answer``;
``SessionRunner`` (the round engine) with ``next_step``/``plan_steps`` (``progress``); ``conclude``.
"""

from negotiation.core.lazy import lazy_exports

__all__ = [
    "Observation",
    "Action",
    "SeatReply",
    "Seat",
    "PromptBuilder",
    "parse_output",
    "parse_vote",
    "read_answer",
    "SessionRunner",
    "next_step",
    "plan_steps",
    "conclude",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "Observation": "negotiation.protocol.seats",
        "Action": "negotiation.protocol.seats",
        "SeatReply": "negotiation.protocol.seats",
        "Seat": "negotiation.protocol.seats",
        "PromptBuilder": "negotiation.protocol.prompting",
        "parse_output": "negotiation.protocol.parsing",
        "parse_vote": "negotiation.protocol.parsing",
        "read_answer": "negotiation.protocol.reading",
        "SessionRunner": "negotiation.protocol.engine",
        "next_step": "negotiation.protocol.progress",
        "plan_steps": "negotiation.protocol.progress",
        "conclude": "negotiation.protocol.outcome",
    },
)
