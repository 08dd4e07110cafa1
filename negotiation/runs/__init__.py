"""Runs: from a configuration (CLI flags or an experiment file) to session logs in a run
folder, concurrently, resumably, under a lock, with costs.

Public API: ``RunSettings``, ``new_log`` (setup); ``ExperimentPlan``, ``SessionSpec``
(specs); ``load_experiment``; ``prepare``, ``open_run``, ``run_plan`` (sweep); ``BOUNDS``.
"""

from negotiation.core.lazy import lazy_exports

__all__ = [
    "RunSettings",
    "new_log",
    "ExperimentPlan",
    "SessionSpec",
    "load_experiment",
    "prepare",
    "open_run",
    "run_plan",
    "BOUNDS",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "RunSettings": "negotiation.runs.setup",
        "new_log": "negotiation.runs.setup",
        "ExperimentPlan": "negotiation.runs.specs",
        "SessionSpec": "negotiation.runs.specs",
        "load_experiment": "negotiation.runs.experiment",
        "prepare": "negotiation.runs.sweep",
        "open_run": "negotiation.runs.sweep",
        "run_plan": "negotiation.runs.sweep",
        "BOUNDS": "negotiation.runs.bounds",
    },
)
