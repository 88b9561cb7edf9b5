"""Figures over training read at a glance: the example scripts' HTML, opened in headless
Chromium, passes the figure check of tests/browser.py (phase lines labelled with words,
never plotly's placeholder; every legend entry named and in view; no title past the edge
of the 1,000 px PNG; no two quantities drawn alike)."""

from pathlib import Path

from tests.test_examples import _main, assert_renders_offline

ROOT = Path(__file__).resolve().parents[1]
MAINLINE = str(ROOT / "checkpoints" / "mainline.pt")


def test_fig07_phase_lines_are_labelled(tmp_path):
    """The shipped mainline groks, so every panel has the three phase lines."""
    _main("fig07_progress")([str(tmp_path), "--checkpoint", MAINLINE])
    assert_renders_offline(tmp_path)
