"""The rules core: what a game is and what its rules say, with no I/O above the file layer.

Public API: ``Issue``, ``Deal``, ``Party``, ``Scoring``, ``Game`` (frozen value objects that
validate themselves); ``Phase`` and ``HelperRole`` (turn kinds); ``VETO_ROLES``; the rules
``score``, ``accepts``, ``agreement``, ``passes_with``, ``payoff``, ``parse_deal`` under a
``RulePolicy``, with one ``Outcome`` type; ``analyse`` (the vectorised deal space); the errors
``GameFormatError``, ``DealError``, ``TemplateError``, ``ConfigError``.
"""

from negotiation.core.lazy import lazy_exports

__all__ = [
    "Issue",
    "Deal",
    "Party",
    "Scoring",
    "Game",
    "VETO_ROLES",
    "Phase",
    "HelperRole",
    "RulePolicy",
    "Outcome",
    "score",
    "accepts",
    "agreement",
    "passes_with",
    "payoff",
    "parse_deal",
    "analyse",
    "GameFormatError",
    "DealError",
    "TemplateError",
    "ConfigError",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "Issue": "negotiation.core.game",
        "Deal": "negotiation.core.game",
        "Party": "negotiation.core.game",
        "Scoring": "negotiation.core.game",
        "Game": "negotiation.core.game",
        "VETO_ROLES": "negotiation.core.game",
        "Phase": "negotiation.core.phases",
        "HelperRole": "negotiation.core.phases",
        "RulePolicy": "negotiation.core.rules",
        "Outcome": "negotiation.core.rules",
        "score": "negotiation.core.rules",
        "accepts": "negotiation.core.rules",
        "agreement": "negotiation.core.rules",
        "passes_with": "negotiation.core.rules",
        "payoff": "negotiation.core.rules",
        "parse_deal": "negotiation.core.rules",
        "analyse": "negotiation.core.deal_space",
        "GameFormatError": "negotiation.core.errors",
        "DealError": "negotiation.core.errors",
        "TemplateError": "negotiation.core.errors",
        "ConfigError": "negotiation.core.errors",
    },
)
