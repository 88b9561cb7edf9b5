"""Liu et al. (2022)'s toy model, Dec(E_i + E_j), and its stacked training.

Kept as an import path: the code lives with its family, :mod:`grok_interp.families.toy`
(docs/DESIGN.md, "Layers"). The names are looked up in the module of the family the
registry holds for ``"toy"``, so this module names no family; nothing in the package
imports it.
"""

from grok_interp.families.registry import alias

__getattr__, __dir__ = alias("toy")
