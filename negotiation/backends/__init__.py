"""Model backends behind one async ``generate``; see ``base`` for the contract and
``registry`` for how a model spec string selects a provider."""
