"""Experiment families: each one what differs between kinds of run (docs/DESIGN.md,
"Families"). :mod:`~grok_interp.families.base` states the contract,
:mod:`~grok_interp.families.registry` is the one place that names the families."""
