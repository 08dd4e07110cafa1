"""Seats: who sits at the table. An LLM seat (a model behind a backend), rule-based seats
(``scripted:rational|greedy|stubborn|random``, the honest ``planner``, the ``oracle``
baseline), a person (``human``).

Public API: ``make_seats``, ``SeatResources`` (registry); ``parse_spec``, ``seat_label``
(specs); ``LLMSeat``; ``SCRIPTED_POLICIES``.
"""

from negotiation.core.lazy import lazy_exports

__all__ = [
    "make_seats",
    "SeatResources",
    "SCRIPTED_POLICIES",
    "parse_spec",
    "seat_label",
    "LLMSeat",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "make_seats": "negotiation.agents.registry",
        "SeatResources": "negotiation.agents.registry",
        "SCRIPTED_POLICIES": "negotiation.agents.registry",
        "parse_spec": "negotiation.agents.specs",
        "seat_label": "negotiation.agents.specs",
        "LLMSeat": "negotiation.agents.llm",
    },
)
