"""The figure check of tests/browser.py catches what keeps a figure from being read:
each defect below, drawn in headless Chromium, is named; the clean figure passes."""

import pytest
from plotly import graph_objects as go
from plotly.subplots import make_subplots

from tests.browser import CHROMIUM, figures_drawn, unreadable

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: bash scripts/setup.sh")


def clean() -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=["loss", "accuracy"])
    for i, name in enumerate(["train", "test"]):
        colour = ["#1f77b4", "#d62728"][i]
        fig.add_trace(go.Scatter(x=[1, 2, 3], y=[3, 2, 1], name=f"{name} loss",
                                 line={"color": colour}), row=1, col=1)  # fmt: skip
        fig.add_trace(go.Scatter(x=[1, 2, 3], y=[0, 1, 1], name=f"{name} accuracy",
                                 line={"color": colour, "dash": "dot"}), row=1, col=2)  # fmt: skip
    for col in (1, 2):
        fig.add_vline(x=2, row=1, col=col, annotation_text="cleanup starts (2)")  # type: ignore[arg-type]
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title="Loss and accuracy", height=400)
    return fig


def placeholder() -> go.Figure:
    fig = clean()
    fig.add_vline(x=2.5, row=1, col=2,  # type: ignore[arg-type]
                  annotation_text=None, annotation_textangle=-90)  # plotly's "new text"
    return fig


def unnamed() -> go.Figure:
    fig = clean()
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[1, 1, 2], line={"color": "#2ca02c"}), row=1, col=2)
    return fig


def unnamed_in_panel() -> go.Figure:  # not in the legend, but which line is it?
    fig = clean()
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[1, 1, 2], line={"color": "#2ca02c"},
                             showlegend=False), row=1, col=2)  # fmt: skip
    return fig


def unlisted() -> go.Figure:  # named, but neither in the legend nor labelled
    fig = clean()
    for k in range(3):
        fig.add_trace(go.Scatter(x=[1, 2, 3], y=[k, k, k + 1], name=f"E_{k}", showlegend=False,
                                 line={"color": ["#2ca02c", "#9467bd", "#8c564b"][k]}),
                      row=1, col=2)  # fmt: skip
    return fig


def legend_cut() -> go.Figure:
    fig = go.Figure([go.Scatter(x=[1, 2], y=[i, i + 1], name=f"quantity number {i}")
                     for i in range(14)])  # fmt: skip
    fig.update_layout(title="Many traces, a short figure", height=260)
    fig.update_xaxes(title_text="epoch")
    return fig


def long_title() -> go.Figure:  # fits 1,280 px, not the PNG's 1,000
    fig = clean()
    fig.update_layout(title="A title long enough to fit a wide browser window but not the "
                      "picture written beside it, which is one thousand pixels wide, as "
                      "kaleido draws it")  # fmt: skip
    return fig


def shared_colour() -> go.Figure:
    fig = clean()
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[2, 2, 2], name="weight norm",
                             line={"color": "#1f77b4"}), row=1, col=1)  # fmt: skip
    return fig


def legend_alike() -> go.Figure:  # one style for two quantities, each in its own panel
    fig = clean()
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[2, 2, 2], name="train points",
                             line={"color": "#1f77b4"}), row=1, col=2)  # fmt: skip
    return fig


def gapped() -> go.Figure:  # a loss known at every other epoch only: a line of no segment
    fig = clean()
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[2, float("nan"), 1], name="weight norm", mode="lines",
                             line={"color": "#2ca02c"}), row=1, col=1)  # fmt: skip
    return fig


DEFECTS = {"placeholder": (placeholder, "annotations without text"),
           "gapped": (gapped, "draw nothing"),
           "unnamed": (unnamed, "unnamed traces in the legend"),
           "unnamed_in_panel": (unnamed_in_panel, "unnamed traces beside others"),
           "unlisted": (unlisted, "in no legend"),
           "legend_cut": (legend_cut, "legend cut off"),
           "long_title": (long_title, "title clipped"),
           "shared_colour": (shared_colour, "drawn alike (one panel"),
           "legend_alike": (legend_alike, "drawn alike (the legend")}  # fmt: skip


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    paths = []
    for name, make in [("clean", clean), *((n, m) for n, (m, _) in DEFECTS.items())]:
        make().write_html(out / f"{name}.html", include_plotlyjs=True)
        paths.append(out / f"{name}.html")
    found = figures_drawn(paths)
    assert found.pop("outside") == []
    return {name.removesuffix(".html"): unreadable(figs[0]) for name, figs in found.items()}


def test_a_clean_figure_passes(drawn):
    assert drawn["clean"] == []


@pytest.mark.parametrize("name", DEFECTS)
def test_each_defect_is_named(drawn, name):
    assert any(DEFECTS[name][1] in why for why in drawn[name]), drawn[name]
