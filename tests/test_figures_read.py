"""Figures over training read at a glance: the example scripts' HTML, opened in headless
Chromium, passes the figure check of tests/browser.py (phase lines labelled with words,
never plotly's placeholder; every legend entry named and in view; no title past the edge
of the 1,000 px PNG; no two quantities drawn alike)."""

import re
from pathlib import Path

from tests.test_examples import _main, assert_renders_offline

ROOT = Path(__file__).resolve().parents[1]
MAINLINE = str(ROOT / "checkpoints" / "mainline.pt")


def test_fig07_phase_lines_are_labelled(tmp_path):
    """The shipped mainline groks, so every panel has the three phase lines."""
    _main("fig07_progress")([str(tmp_path), "--checkpoint", MAINLINE])
    assert_renders_offline(tmp_path)


def test_varma_fig09_writes_its_table_with_whole_epochs(tmp_path):
    """Every example writes a Markdown table beside its figure; epochs are counts."""
    from tests.test_examples import counts_as_floats

    paths = _main("varma_fig09_efficiency")([str(tmp_path), "--checkpoint", MAINLINE])
    (table,) = [p for p in paths if p.suffix == ".md"]
    text = table.read_text()
    assert re.search(r"\|\s+40000 \|", text) and counts_as_floats(text) == []
    assert_renders_offline(tmp_path)
