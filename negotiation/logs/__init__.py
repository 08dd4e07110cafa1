"""Session logs: the versioned record of a session, how a running session writes it
(an append-only journal), and the one loader that reads every version.

Public API: ``SessionLog``, ``TurnRecord``, ``PartyRecord``, ``FORMAT_VERSION`` (records);
``JournalSink`` (journal); ``load_logs``, ``read_log``, ``find_logs``, ``LogReadError``
(reading).
"""

from negotiation.core.lazy import lazy_exports

__all__ = [
    "SessionLog",
    "TurnRecord",
    "PartyRecord",
    "FORMAT_VERSION",
    "JournalSink",
    "load_logs",
    "read_log",
    "find_logs",
    "LogReadError",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "SessionLog": "negotiation.logs.records",
        "TurnRecord": "negotiation.logs.records",
        "PartyRecord": "negotiation.logs.records",
        "FORMAT_VERSION": "negotiation.logs.records",
        "JournalSink": "negotiation.logs.journal",
        "load_logs": "negotiation.logs.reading",
        "read_log": "negotiation.logs.reading",
        "find_logs": "negotiation.logs.reading",
        "LogReadError": "negotiation.logs.reading",
    },
)
