"""Streaming parity (van Rossem & Saxe 2025): the task and the paper's recurrent network.

Kept as an import path: the code lives with its family, :mod:`grok_interp.families.parity`
(the task itself: :mod:`grok_interp.streaming`)
(docs/DESIGN.md, "Layers"). The names are looked up in the module of the family the
registry holds for ``"parity"``, so this module names no family; nothing in the package
imports it.
"""

from grok_interp.families.registry import alias

__getattr__, __dir__ = alias("parity")
