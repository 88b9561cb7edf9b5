"""Writing figures: self-contained HTML always, a PNG beside it when a static renderer
answers, and never a script that hangs on the renderer."""

import plotly.graph_objects as go
import pytest

from grok_interp import plots


def figure():
    return go.Figure(go.Scatter(x=[0, 1], y=[1, 0]), layout={"title": "a line"})


def test_a_renderer_that_never_answers_costs_the_png_not_the_run(tmp_path, monkeypatch):
    """Kaleido's Chromium once sat 12 minutes without answering, holding a sweep's script
    after its results were saved: the PNG is given up after PNG_TIMEOUT_S, with a warning,
    and the HTML stays."""
    monkeypatch.setattr(plots, "PNG_CHILD", "import time; time.sleep(600)")
    monkeypatch.setattr(plots, "PNG_TIMEOUT_S", 2)
    with pytest.warns(UserWarning, match="no PNG"):
        paths = plots.write(figure(), tmp_path, "fig")
    assert paths == [tmp_path / "fig.html"] and paths[0].stat().st_size > 100_000
    assert not (tmp_path / "fig.png").exists()


def test_a_png_when_kaleido_answers(tmp_path):
    pytest.importorskip("kaleido")
    paths = plots.write(figure(), tmp_path, "fig")
    assert paths == [tmp_path / "fig.html", tmp_path / "fig.png"]
    png = (tmp_path / "fig.png").read_bytes()
    assert png[:4] == b"\x89PNG"
    assert int.from_bytes(png[16:20], "big") == 1000  # width: the HTML's, not kaleido's 700
