"""The ``inspect_ai`` entry point of this distribution (``negotiation``): importing it registers
the tasks (``negotiation/base`` …), the scorer and the model providers
(``negotiation-llamacpp``, ``negotiation-hf``, ``negotiation-scripted``)."""

from negotiation_inspect import providers, scorer, solver, tasks  # noqa: F401
from negotiation_inspect.providers import HFAPI, LlamaCppAPI, ScriptedAPI  # noqa: F401
from negotiation_inspect.tasks import (  # noqa: F401
    base,
    base_7parties,
    game,
    hospital_merger,
    oss_licence,
    river_dam,
)
