"""The package's structure (docs/DESIGN.md, "Families"): no module outside a family's own
branches on a family's type, no import circle, no private name imported across modules.

Read from the source with :mod:`ast`; nothing is imported or run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "grok_interp"
# The types that tell one family from another: tasks, presets and learners.
FAMILY_TYPES = {"Task", "SeqTask", "ParityTask", "ModelPreset", "ToyPreset", "RNNPreset",
                "HookedRNN", "ToyModel"}  # fmt: skip
# A family's own modules: its folder entry and the modules that define its task and
# learner. A branch on its type is at home there; an analysis that applies to one family
# asks the registry (registry.applies, run.family.analyses) or the learner instead.
OWN = {
    "families/modular.py", "families/toy.py", "families/parity.py", "families/sequences.py",
    "tasks.py", "toy.py", "parity.py", "sequences.py",
}  # fmt: skip


def modules() -> dict[str, ast.Module]:
    return {
        str(p.relative_to(PACKAGE)): ast.parse(p.read_text())
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def module_name(rel: str) -> str:
    parts = ["grok_interp", *rel[:-3].split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def family_branches() -> dict[str, int]:
    """Per module outside a family's own: its ``isinstance`` checks on a family's type."""
    out: dict[str, int] = {}
    for rel, tree in modules().items():
        if rel in OWN:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "isinstance" and len(node.args) == 2
                    and _names(node.args[1]) & FAMILY_TYPES):  # fmt: skip
                out[rel] = out.get(rel, 0) + 1
    return out


def _type_only(tree: ast.Module) -> set[int]:
    """The nodes inside ``if TYPE_CHECKING:`` blocks: imports for annotations only, which
    never run."""
    return {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
            and "TYPE_CHECKING" in _names(block.test)
            for stmt in block.body for n in ast.walk(stmt)}  # fmt: skip


def imports() -> dict[str, set[tuple[str, str]]]:
    """Per module: every (module, name) it imports from grok_interp at run time, at any
    depth, functions' bodies included (the names are empty for ``import x``)."""
    known = {module_name(rel) for rel in modules()}
    out: dict[str, set[tuple[str, str]]] = {}
    for rel, tree in modules().items():
        me = module_name(rel)
        found: set[tuple[str, str]] = set()
        skip = _type_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("grok_interp"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add((sub, "") if sub in known else (node.module or "", alias.name))
            elif isinstance(node, ast.Import):
                found |= {(a.name, "") for a in node.names if a.name.startswith("grok_interp.")}
        out[me] = {(m, n) for m, n in found if m != me and m != "grok_interp"}
    return out


def circles() -> list[list[str]]:
    """The import graph's strongly connected components of more than one module."""
    graph = {m: {t for t, _ in deps} for m, deps in imports().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def private_imports() -> list[str]:
    return sorted(f"{me} <- {m}.{n}" for me, deps in imports().items() for m, n in deps
                  if n.startswith("_") and not n.startswith("__"))  # fmt: skip


def long_functions(limit: int = 60) -> dict[str, int]:
    out = {}
    for rel, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > limit:
                    out[f"{rel}:{node.name}"] = n
    return out


# jaxtyping's array types: an annotation inside one of these has its shape written.
SHAPED = {"Float", "Float32", "Float64", "Int", "Int64", "Bool", "Shaped", "Num", "Real",
          "Integer", "Inexact", "Complex", "UInt", "UInt8"}  # fmt: skip


def bare_tensor(annotation: ast.expr | None) -> bool:
    """Whether ``annotation`` names ``Tensor`` or ``torch.Tensor`` outside a jaxtyping
    type (``Float[Tensor, "batch d_model"]`` is shaped; ``dict[str, Tensor]`` is bare)."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body

    def bare(node: ast.AST) -> bool:
        if isinstance(node, ast.Subscript) and (_names(node.value) & SHAPED):
            return False
        if isinstance(node, ast.Name | ast.Attribute) and (
                getattr(node, "id", None) == "Tensor" or getattr(node, "attr", None) == "Tensor"):
            return True
        return any(bare(child) for child in ast.iter_child_nodes(node))

    return bare(annotation)


def public_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """A module's public functions and the public methods of its public classes."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            out += [m for m in node.body if isinstance(m, ast.FunctionDef)
                    and (not m.name.startswith("_") or m.name.startswith("__"))]  # fmt: skip
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            out.append(node)
    return out


def bare_tensor_functions() -> list[str]:
    """The public functions and methods that take or return a ``Tensor`` without a
    jaxtyping shape (docs/DESIGN.md, "Conventions")."""
    out = []
    for rel, tree in modules().items():
        for f in public_functions(tree):
            a = f.args
            args = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            annotations = [x.annotation for x in args if x is not None] + [f.returns]
            if any(bare_tensor(x) for x in annotations):
                out.append(f"{rel}:{f.lineno} {f.name}")
    return out


def test_no_module_outside_a_family_branches_on_its_type() -> None:
    assert family_branches() == {}


def test_no_import_circle() -> None:
    assert circles() == []


def test_no_private_name_imported_across_modules() -> None:
    assert private_imports() == []


def test_the_checks_see_what_they_look_for() -> None:
    """The checks on a module written to break each rule."""
    bad = ast.parse("from grok_interp.training import _member\n"
                    "def f(t):\n    return isinstance(t, SeqTask | Task)\n")  # fmt: skip
    calls = [n for n in ast.walk(bad) if isinstance(n, ast.Call)]
    assert _names(calls[0].args[1]) & FAMILY_TYPES == {"SeqTask", "Task"}
    imp = next(n for n in ast.walk(bad) if isinstance(n, ast.ImportFrom))
    assert imp.names[0].name.startswith("_")


def test_every_public_function_on_tensors_has_their_shapes() -> None:
    assert bare_tensor_functions() == []


def test_the_shape_check_sees_a_bare_tensor() -> None:
    """Bare ``Tensor`` anywhere in an annotation, but not inside a jaxtyping type, nor in
    a private function or a private class's method."""
    src = ("def a(x: Tensor) -> int: ...\n"
           "def b(x: int) -> dict[str, torch.Tensor]: ...\n"
           "def c(x: 'Tensor | None') -> int: ...\n"
           "def d(x: Float[Tensor, 'batch d_model']) -> tuple[Int[torch.Tensor, ' n'], int]: ...\n"
           "def _e(x: Tensor) -> Tensor: ...\n"
           "class F:\n    def g(self, x: Tensor) -> None: ...\n    def _h(self) -> Tensor: ...\n"
           "class _G:\n    def i(self) -> Tensor: ...\n")  # fmt: skip
    found = []
    for f in public_functions(ast.parse(src)):
        a = f.args
        annotations = [x.annotation for x in [*a.args, *a.kwonlyargs]] + [f.returns]
        found += [f.name] if any(bare_tensor(x) for x in annotations) else []
    assert found == ["a", "b", "c", "g"]


EXAMPLES = PACKAGE.parent / "examples"


def example_faults(sources: dict[str, str]) -> list[str]:
    """Per example script (name -> source): each import of another example (a module of
    the examples folder, ``_paths`` and ``sweep`` included) and each argument parser it
    builds itself (``argparse``) instead of asking ``grok_interp.examples_cli.parser``."""
    local = {Path(n).stem for n in sources} | {"_paths", "sweep"}
    out = []
    for name, src in sorted(sources.items()):
        for node in ast.walk(ast.parse(src)):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
            out += [f"{name} imports the example {m}" for m in mods if m.split(".")[0] in local]
            out += [f"{name} builds its own parser ({m})" for m in mods if m == "argparse"]
            if isinstance(node, ast.Attribute | ast.Name) and "ArgumentParser" in _names(node):
                out.append(f"{name} builds its own parser (ArgumentParser)")
    return sorted(set(out))


def test_no_example_imports_another_or_builds_its_own_parser() -> None:
    sources = {p.name: p.read_text() for p in sorted(EXAMPLES.glob("*.py"))}
    assert len(sources) >= 28
    assert example_faults(sources) == []
    for name, src in sources.items():  # every script asks the one builder
        assert "from grok_interp.examples_cli import" in src and "parser(" in src, name


def test_the_example_check_sees_what_it_looks_for() -> None:
    bad = {
        "a.py": "import argparse\nap = argparse.ArgumentParser()\n",
        "b.py": "from a import main\nimport sweep\n",
        "c.py": "from _paths import parser\nfrom argparse import ArgumentParser\n",
        "d.py": "from grok_interp.examples_cli import parser\nimport pandas\n",
    }
    assert example_faults(bad) == [
        "a.py builds its own parser (ArgumentParser)",
        "a.py builds its own parser (argparse)",
        "b.py imports the example a",
        "b.py imports the example sweep",
        "c.py builds its own parser (argparse)",
        "c.py imports the example _paths",
    ]


# -- the layer map, read at every depth (docs/DESIGN.md, "Layers") -------------------------
# Bottom to top. A module may import (at module level, in a function, under TYPE_CHECKING,
# by an importlib string, or as ``from grok_interp import X``) only modules of its own
# layer or below. Written down once; a module the map does not place fails the test.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("leaves", ("config", "errors", "tl", "fourier", "losses", "hooks", "optim",
                "capabilities", "layouts", "groups")),
    ("task parts", ("structures",)),
    ("tasks and learners", ("tasks", "sequences", "streaming", "models", "fast", "zhong",
                            "chughtai", "foreign")),
    ("Run files and the family contract", ("runs", "pair_runs", "snapshots",
                                           "families.base", "families.registry")),
    ("analyses", ("analyses", "analyses.*", "theory", "theory.*")),
    ("reporting", ("plots", "page", "reporting")),
    ("engine and families", ("engine", "families", "families.*")),
    ("drivers", ("report", "training", "sweeps", "experiments", "experiments.*", "bench",
                 "examples_cli")),
    ("entry points", ("cli", "cli.*", "toy", "parity", "")),
]
# Edges the map allows across layers, each with its reason.
ALLOWED = {
    # the contract names, for annotations only, the types its methods take and return
    ("families.base", "engine", "tc"), ("families.base", "report", "tc"),
    ("families.base", "reporting", "tc"),
    # the registry is the one place that names the families (importlib strings)
    *{("families.registry", f"families.{k}", "str")
      for k in ("modular", "toy", "parity", "sequences")},
}
# No family imports another's module; these are shared by the families.
SHARED_FAMILY = {"families.base", "families.registry", "families.pairs", "families.stepwise"}


def layer_of(mod: str) -> int:
    """The index of ``mod``'s layer (``mod`` without the ``grok_interp.`` prefix; "" is
    the package itself), or a KeyError."""
    for i, (_, members) in enumerate(LAYERS):
        for m in members:
            if mod == m or (m.endswith(".*") and mod.startswith(m[:-1])):
                return i
    raise KeyError(f"the layer map does not place {mod!r}")


def edges_at_every_depth(sources: dict[str, str]) -> set[tuple[str, str, str]]:
    """(importer, imported, kind) for every reference to a grok_interp module in
    ``sources`` (module name without prefix -> source): kind ``top``, ``func`` (in a
    function's body), ``tc`` (under TYPE_CHECKING), ``str`` (a module-name string in a
    module that calls importlib.import_module); ``from grok_interp import X`` resolves X
    through the package's ``_EXPORTS``."""
    known = set(sources)
    exports: dict[str, str] = {}
    for node in ast.walk(ast.parse(sources.get("", ""))):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_EXPORTS"
                                                for t in node.targets):  # fmt: skip
            exports = {k: v.removeprefix("grok_interp.")
                       for k, v in ast.literal_eval(node.value).items()}  # fmt: skip
    out: set[tuple[str, str, str]] = set()

    def target(name: str) -> str | None:
        name = name.removeprefix("grok_interp").removeprefix(".")
        while name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in known else None

    def visit(me: str, node: ast.AST, kind: str, importlib_user: bool) -> None:
        for child in ast.iter_child_nodes(node):
            k = kind
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) \
                    and kind == "top":  # fmt: skip
                k = "func"
            if isinstance(child, ast.If) and "TYPE_CHECKING" in _names(child.test):
                for s in child.body:
                    visit(me, ast.Module(body=[s], type_ignores=[]), "tc", importlib_user)
                for s in child.orelse:
                    visit(me, ast.Module(body=[s], type_ignores=[]), k, importlib_user)
                continue
            found: list[tuple[str | None, str]] = []
            if isinstance(child, ast.Import):
                found = [(target(a.name), k) for a in child.names
                         if a.name.startswith("grok_interp")]  # fmt: skip
            elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith(
                    "grok_interp"):  # fmt: skip
                base = child.module or ""
                for a in child.names:
                    sub = f"{base}.{a.name}".removeprefix("grok_interp").removeprefix(".")
                    if sub in known:
                        found.append((sub, k))
                    elif base == "grok_interp" and a.name in exports:
                        found.append((exports[a.name], k))
                    else:
                        found.append((target(base), k))
            elif isinstance(child, ast.Constant) and isinstance(child.value, str) \
                    and importlib_user and child.value.startswith("grok_interp."):  # fmt: skip
                found = [(target(child.value), "str")]
            out.update((me, t, kk) for t, kk in found if t is not None and t != me)
            visit(me, child, k, importlib_user)

    for me, src in sources.items():
        tree = ast.parse(src)
        user = any(isinstance(n, ast.Attribute) and n.attr == "import_module"
                   for n in ast.walk(tree))  # fmt: skip
        visit(me, tree, "top", user)
    return out


def layer_faults(sources: dict[str, str]) -> list[str]:
    """Every edge that points up the layer map (and is not ALLOWED), and every import of
    one family's module by another family's."""
    out = []
    for a, b, kind in sorted(edges_at_every_depth(sources)):
        if layer_of(b) > layer_of(a) and (a, b, kind) not in ALLOWED:
            out.append(f"{a} -> {b} [{kind}] points up ({LAYERS[layer_of(a)][0]} -> "
                       f"{LAYERS[layer_of(b)][0]})")  # fmt: skip
        if a.startswith("families.") and b.startswith("families.") \
                and SHARED_FAMILY.isdisjoint({a, b}) and (a, b, kind) not in ALLOWED:  # fmt: skip
            out.append(f"{a} -> {b} [{kind}]: a family imports another family's module")
    return out


def package_sources() -> dict[str, str]:
    return {module_name(rel).removeprefix("grok_interp").removeprefix("."): p.read_text()
            for rel, p in ((str(p.relative_to(PACKAGE)), p)
                           for p in sorted(PACKAGE.rglob("*.py")))}  # fmt: skip


def test_every_import_points_down_the_layer_map() -> None:
    sources = package_sources()
    unplaced = []
    for m in sources:
        try:
            layer_of(m)
        except KeyError as e:
            unplaced.append(str(e))
    assert unplaced == []
    assert layer_faults(sources) == []


def test_the_layer_check_catches_a_planted_violation_at_every_depth() -> None:
    sources = package_sources()
    planted = {
        "tasks": "def f():\n    from grok_interp.training import train\n",  # in a function
        "models": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                  "    from grok_interp.report import Report\n",  # type-only
        "fourier": "import importlib\nM = 'grok_interp.sweeps'\n"
                   "def g():\n    return importlib.import_module(M)\n",  # a string
        "analyses.embedding": "from grok_interp import analyze\n",  # the lazy package
        "families.toy": "from grok_interp.families.modular import Modular\n",
    }
    faults = layer_faults({**sources, **planted})
    for needle in ("tasks -> training [func]", "models -> report [tc]", "fourier -> sweeps [str]",
                   "analyses.embedding -> report [top]",
                   "families.toy -> families.modular [top]: a family imports"):
        assert any(f.startswith(needle) for f in faults), (needle, faults)
