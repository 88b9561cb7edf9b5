"""The errors every layer may raise, defined below all of them."""

from __future__ import annotations


class CheckpointError(ValueError):
    """A file that cannot be read as a run or a supported checkpoint; says what to do."""
