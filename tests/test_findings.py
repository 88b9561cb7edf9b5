"""The README's measured numbers match the shipped checkpoints (``scripts/findings.py``),
and the mechanism that checks them finds stale values, reworded text and missing
commands, and rewrites only the values."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _findings():
    spec = importlib.util.spec_from_file_location("findings", ROOT / "scripts" / "findings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["findings"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


F = _findings()


def test_readme_numbers_are_fresh():
    for doc, checks in F.check_docs().items():
        assert not any(c.problem for c in checks), (
            f"stale numbers in {doc.name}; refresh with `python scripts/findings.py --write`:\n"
            + F.report(checks)
        )


TOY = """# t

## A

Intro.

The norm peaks at 59 (1k) and ends at 97.5-99%. Measured by `make.py`.

## B

The norm peaks at 12 (3k) and ends at 1%.
"""


def _toy(values):
    return F.Finding("toy", "A", "make.py", "The norm peaks at {a} ({at}) and ends at {b}.",
                     lambda: values)  # fmt: skip


def test_stale_values_are_named_and_rewritten_alone():
    fresh = {"a": "59", "at": "1k", "b": "97.45-99.34%"}
    check = F.check(_toy(fresh), TOY)
    assert check.problem == "stale (b: README '97.5-99%', fresh '97.45-99.34%')"
    assert check.line == 7
    new = F.rewrite(TOY, [check])
    assert new == TOY.replace("97.5-99%", "97.45-99.34%")  # section B untouched
    assert not F.check(_toy(fresh), new).problem


def test_values_that_match_pass_and_the_number_is_read_whole():
    assert not F.check(_toy({"a": "59", "at": "1k", "b": "97.5-99%"}), TOY).problem
    # a prefix of the written number is not a match ("97" then "." would be)
    assert F.check(_toy({"a": "59", "at": "1k", "b": "97"}), TOY).problem.startswith("stale")


def test_reworded_text_and_a_missing_command_fail():
    reworded = TOY.replace("ends at", "finishes at")
    assert "occur 0 times" in F.check(_toy({"a": "59", "at": "1k", "b": "x"}), reworded).problem
    uncited = TOY.replace("Measured by `make.py`.", "")
    problem = F.check(_toy({"a": "59", "at": "1k", "b": "97.5-99%"}), uncited).problem
    assert "does not name the command" in problem
    missing = F.Finding("toy", "C", "make.py", "x {a}", lambda: {"a": "1"})
    assert "no README section" in F.check(missing, TOY).problem


@pytest.mark.parametrize(("epoch", "text"), [(500, "500"), (1000, "1k"), (7500, "7.5k"),
                                             (13000, "13k")])  # fmt: skip
def test_epochs_are_written_as_in_the_readme(epoch, text):
    assert F.k(epoch) == text
