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
