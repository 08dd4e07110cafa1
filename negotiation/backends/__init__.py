"""Model backends behind one small async ``generate``; retry, timeout, limits and the response
cache are wrappers around a provider.

Public API: ``Backend``, ``Message``, ``GenerateConfig``, ``Completion``, ``TransientError``,
``FatalError`` (base); ``create_backend``, ``PROVIDERS``, ``ModelSpec`` (registry);
``ResponseCache``, ``CachedBackend`` (cache).
"""

from negotiation.core.lazy import lazy_exports

__all__ = [
    "Backend",
    "Message",
    "GenerateConfig",
    "Completion",
    "TransientError",
    "FatalError",
    "create_backend",
    "PROVIDERS",
    "ModelSpec",
    "ResponseCache",
    "CachedBackend",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "Backend": "negotiation.backends.base",
        "Message": "negotiation.backends.base",
        "GenerateConfig": "negotiation.backends.base",
        "Completion": "negotiation.backends.base",
        "TransientError": "negotiation.backends.base",
        "FatalError": "negotiation.backends.base",
        "create_backend": "negotiation.backends.registry",
        "PROVIDERS": "negotiation.backends.registry",
        "ModelSpec": "negotiation.backends.registry",
        "ResponseCache": "negotiation.backends.cache",
        "CachedBackend": "negotiation.backends.cache",
    },
)
