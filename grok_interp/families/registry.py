"""The one place that names the experiment families (docs/DESIGN.md, "Families").

``FAMILIES`` maps the kind a Run file stores (``"family"``) to the module that holds the
family; a module is imported the first time its family is asked for, so the layers below
the families (Run files, the model loader) ask the registry without importing any
family's trainer or report (as TransformerLens' architecture table and SAELens' registry
of SAE classes do). A family defined elsewhere (a test, a user's module) joins with
:func:`register`. Files written before the key existed are read by :func:`kind_of_file`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from grok_interp.errors import CheckpointError
from grok_interp.families.base import Family

FAMILIES: dict[str, str] = {
    "modular": "grok_interp.families.modular",
    "toy": "grok_interp.families.toy",
    "parity": "grok_interp.families.parity",
    "sequences": "grok_interp.families.sequences",
}
_registered: dict[str, Family] = {}


def register(family: type[Family]) -> type[Family]:
    """Add a family defined outside this package (a class decorator); its kind must be new."""
    if family.kind in FAMILIES or family.kind in _registered:
        raise ValueError(f"a family of kind {family.kind!r} exists already")
    _registered[family.kind] = family()
    return family


def unregister(kind: str) -> None:
    """Remove a family added by :func:`register`."""
    _registered.pop(kind, None)


def kinds() -> list[str]:
    return list(FAMILIES) + list(_registered)


def get(kind: str) -> Family:
    """The family of ``kind``, or a CheckpointError that lists the known ones."""
    if kind in _registered:
        return _registered[kind]
    if kind not in FAMILIES:
        raise CheckpointError(f"unknown experiment family {kind!r}; known: {', '.join(kinds())}")
    family = importlib.import_module(FAMILIES[kind]).FAMILY
    assert isinstance(family, Family) and family.kind == kind
    return family


def alias(kind: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` that re-export the module of the family
    of ``kind`` (the old import paths ``grok_interp.toy`` and ``grok_interp.parity``: they
    ask the registry, so they name no family)."""

    def home() -> Any:
        return sys.modules[type(get(kind)).__module__]

    return (lambda name: getattr(home(), name)), (lambda: dir(home()))


def families() -> list[Family]:
    return [get(k) for k in kinds()]


def of(task: Any, model: Any) -> Family:
    """The family of a run of ``task`` on a ``model`` preset, or a ValueError."""
    for family in families():
        if family.accepts(task, model):
            return family
    takes = [f.what for f in families() if type(model) in f.preset_types]
    raise ValueError(f"a {type(model).__name__} trains on {' or '.join(takes) or 'no family'} "
                     f"only, not on {task.describe()}")  # fmt: skip


def of_learner(model: Any) -> Family:
    """The family a learner handed to ``analyze()`` bare belongs to."""
    for family in families():
        if family.owns(model):
            return family
    raise ValueError(f"no experiment family has a learner of type {type(model).__name__}")


def kind_of_file(d: dict[str, Any]) -> str:
    """The family a Run-file dict names, or for a file written before the key existed the
    one its task and model dicts imply (a toy model, streaming parity, a sequence task,
    else modular pairs)."""
    if "family" in d:
        return str(d["family"])
    task, model = d["task"], d["model"]
    if model.get("kind") == "toy":
        return "toy"
    if task.get("kind") == "parity":
        return "parity"
    return "sequences" if "kind" in task else "modular"
