"""Circuit density in the token-embedding space (Humayun, Balestriero and Baraniuk,
"Grokking and the geometry of circuit formation", Sections 2.1 and 3).

Circuit density (local complexity) of a neighbourhood V = conv(vertices) of an input: per
layer, the number of neurons whose pre-activation does not have the same sign at every
vertex, i.e. whose hyperplane (zero-level set) cuts the neighbourhood as the layer sees
it (Section 2.1: "the number of neuron hyperplanes that intersect V embedded to that
layer's input space"). GELU neurons count by the sign of the pre-activation, as the
authors' code does (``torch.sign`` of the layer's activations before the non-linearity).

The neighbourhood is the authors' sampler (grok-adversarial, ``samplers.py``,
``get_ortho_hull_around_samples``): n random orthonormal directions u_1..u_n scaled to
length r, and the 2n vertices x +- r u_k, a cross-polytope (an l1 ball of radius r in
that frame). The frame is drawn once from a seeded generator and is the same for every
point and every snapshot. Default r = 0.05 (Section 3, for the paper's transformer) and
n = 50 (100 vertices).

Transformer choices (the paper and the authors' code cover MLPs and ResNets only):

- **The input space** is the token embeddings of the operand positions (a and b):
  R^(2 d_model), what ``hook_embed`` writes there. The ``=`` (and operator) tokens are
  the same in every input, so they are not input variables; positional embeddings are
  added by the model after the hook as usual, a constant offset per position, so they
  are not part of the space either.
- **Positions read.** A layer's neurons are counted at every position by default, as
  the authors' code flattens a layer's whole activation tensor (``positions="all"``:
  per layer the units are positions x d_mlp); ``positions="final"`` reads the position
  the answer is read at only.
- **Per neuron**: the count divided by the number of units read (the authors'
  ``n_inter / match.shape[-1]``).
- **Random points**: each operand's embedding drawn i.i.d. per coordinate from a normal
  with the mean and standard deviation of that coordinate over the number tokens' rows
  of W_E (the same standard-normal draws at every snapshot, rescaled to its W_E).

Computation: all vertices of a chunk of points go through one forward
(``run_with_hooks``: a hook on ``hook_embed`` writes the vertices, hooks on each
``blocks.L.mlp.hook_pre`` keep only the sign agreement), chunked to bound memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float
from torch import Tensor

from grok_interp.analyses.common import Result, check_model, history_at, require
from grok_interp.runs import Run, model_from_run
from grok_interp.tasks import Task, heldout_indices
from grok_interp.tl import Model

Positions = Literal["all", "final"]
SETS = ("train", "test", "random")


def frame(dim: int, n: int, r: float = 0.05, seed: int = 0) -> Float[Tensor, "vertices dim"]:
    """The 2n vertices +-r u_k of the cross-polytope around the origin, u_k orthonormal
    (QR of a seeded Gaussian matrix): the same frame for every point."""
    if not 1 <= n <= dim:
        raise ValueError(f"n (directions) must lie in 1..{dim} (the space's dimension), got {n}")
    if r <= 0:
        raise ValueError(f"the radius r must be > 0, got {r}")
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, n, generator=gen, dtype=torch.float64))
    u = q.T.float() * r
    return torch.cat([u, -u])


def operand_positions(task: Task) -> tuple[int, int]:
    return (0, 1) if task.token_format == "a b =" else (0, 2)


def operand_embeddings(model: Model, task: Task, pairs: Tensor) -> Tensor:
    """(points, 2, d_model): W_E of a and of b for each pair."""
    w_e = model.W_E.detach()
    return torch.stack([w_e[pairs[:, 0]], w_e[pairs[:, 1]]], dim=1).float().cpu()


def random_points(model: Model, task: Task, n: int, seed: int = 0) -> Tensor:
    """``n`` points (n, 2, d_model) matched per coordinate to the number tokens' W_E rows
    (module docstring)."""
    w = model.W_E.detach()[: task.p].float().cpu()
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 2, w.shape[1], generator=gen)
    return w.mean(0) + w.std(0) * z


def _check(model: Model, task: Task) -> None:
    """A model that fits the task and has MLP layers, whose neurons the measure counts."""
    check_model(model, task, "circuit_density")
    require(not model.cfg.attn_only and model.cfg.d_mlp is not None, "circuit_density",
            "the model has no MLP layers, whose neurons the measure counts")  # fmt: skip


def signs(model: Model, task: Task, emb: Float[Tensor, "n 2 d_model"],
          positions: Positions = "all") -> list[Tensor]:
    """Per MLP layer, the sign pattern (n, units) of the pre-activations when the operand
    embeddings are ``emb``: one forward, a hook writing ``hook_embed`` at the operand
    positions and one reading each ``blocks.L.mlp.hook_pre`` (module docstring)."""
    pos_a, pos_b = operand_positions(task)
    read = slice(None) if positions == "all" else slice(task.n_ctx - 1, task.n_ctx)
    emb = emb.to(model.cfg.device)
    out: list[Tensor] = [torch.empty(0)] * model.cfg.n_layers

    def write(act: Tensor, hook: Any) -> Tensor:
        act = act.clone()
        act[:, pos_a], act[:, pos_b] = emb[:, 0].to(act.dtype), emb[:, 1].to(act.dtype)
        return act

    def keep(layer: int) -> Any:
        def hook(act: Tensor, hook: Any) -> None:
            out[layer] = (act[:, read] > 0).flatten(1)

        return hook

    hooks: list[tuple[str, Any]] = [("hook_embed", write)]
    hooks += [(f"blocks.{i}.mlp.hook_pre", keep(i)) for i in range(model.cfg.n_layers)]
    tokens = task.tokens()[:1].expand(len(emb), -1).to(model.cfg.device)
    model.run_with_hooks(tokens, fwd_hooks=hooks, return_type=None)  # type: ignore[arg-type]
    return out


@torch.no_grad()
def density(
    model: Model,
    task: Task,
    points: Float[Tensor, "points 2 d_model"],
    *,
    r: float = 0.05,
    n: int = 50,
    seed: int = 0,
    positions: Positions = "all",
    chunk: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Circuit density of each point: (counts, per_neuron), each (points, layers);
    ``counts`` the number of neurons cut by the neighbourhood per MLP layer."""
    _check(model, task)
    d = model.cfg.d_model
    verts = frame(2 * d, n, r, seed).view(2 * n, 2, d)
    n_vert, n_ctx = len(verts), task.n_ctx
    chunk = chunk or max(1, (1 << 22) // (n_vert * n_ctx * (model.cfg.d_mlp or d)))
    counts = torch.zeros(len(points), model.cfg.n_layers, dtype=torch.long)
    units = (n_ctx if positions == "all" else 1) * (model.cfg.d_mlp or 0)
    for start in range(0, len(points), chunk):
        x = points[start : start + chunk].float()
        c = len(x)
        emb = (x[:, None] + verts[None]).reshape(c * n_vert, 2, d)
        for layer, s in enumerate(signs(model, task, emb, positions)):
            s = s.view(c, n_vert, -1)
            counts[start : start + c, layer] = (s != s[:, :1]).any(1).sum(-1).cpu()
    return counts, counts.double() / max(units, 1)


@dataclass(frozen=True)
class CircuitDensityResult(Result):
    """Mean circuit density per point set and MLP layer (module docstring)."""

    sets: tuple[str, ...]
    n_points: dict[str, int]
    mean_count: dict[str, list[float]]
    mean_per_neuron: dict[str, list[float]]
    r: float
    n: int
    positions: str

    title = "Circuit density (Humayun, Balestriero and Baraniuk)"
    section = "Sections 2.1, 3; Figure 3"

    def table(self) -> pd.DataFrame:
        rows = []
        for s in self.sets:
            for layer, (c, f) in enumerate(zip(self.mean_count[s], self.mean_per_neuron[s],
                                               strict=True)):  # fmt: skip
                rows.append({"points": s, "n": self.n_points[s], "layer": layer,
                             "neurons cut (mean)": round(c, 2),
                             "per neuron": round(f, 4)})  # fmt: skip
        return pd.DataFrame(rows)

    def notes(self) -> list[str]:
        return [f"neighbourhood: cross-polytope of radius r = {self.r} on {self.n} orthonormal "
                f"directions ({2 * self.n} vertices) in the operand embeddings' space; "
                f"neurons read at {self.positions} positions"]  # fmt: skip

    def figure(self) -> go.Figure:
        fig = go.Figure([go.Bar(name=s, x=[f"layer {i}" for i in range(len(v))], y=v)
                         for s, v in self.mean_count.items()])  # fmt: skip
        fig.update_layout(title=f"{self.title}: {self.section}", barmode="group",
                          xaxis_title="MLP layer",
                          yaxis_title="neurons cut per neighbourhood")  # fmt: skip
        return fig


def point_sets(model: Model, task: Task, train_idx: Tensor | None,
               n_points: int, seed: int = 0) -> dict[str, Tensor]:  # fmt: skip
    """Up to ``n_points`` seeded training and test inputs (when the split is known; all
    inputs otherwise) and random points, as operand embeddings."""
    pairs = task.pairs()
    gen = torch.Generator().manual_seed(seed)
    sets: dict[str, Tensor] = {}
    if train_idx is None:
        groups = {"all": torch.arange(len(pairs))}
    else:
        groups = {"train": train_idx, "test": heldout_indices(task, train_idx)}
    for name, idx in groups.items():
        pick = idx[torch.randperm(len(idx), generator=gen)[:n_points]]
        sets[name] = operand_embeddings(model, task, pairs[pick])
    sets["random"] = random_points(model, task, n_points, seed)
    return sets


def circuit_density(
    model: Model,
    task: Task,
    train_idx: Tensor | None = None,
    *,
    n_points: int = 500,
    r: float = 0.05,
    n: int = 50,
    seed: int = 0,
    positions: Positions = "all",
) -> CircuitDensityResult:
    """Mean circuit density of training, test and random points (``n_points`` each)."""
    sets = point_sets(model, task, train_idx, n_points, seed)
    counts, fracs = {}, {}
    sizes = {}
    for name, pts in sets.items():
        c, f = density(model, task, pts, r=r, n=n, seed=seed, positions=positions)
        counts[name] = c.double().mean(0).tolist()
        fracs[name] = f.mean(0).tolist()
        sizes[name] = len(pts)
    return CircuitDensityResult(sets=tuple(sets), n_points=sizes, mean_count=counts,
                                mean_per_neuron=fracs, r=r, n=n, positions=positions)  # fmt: skip


@torch.no_grad()
def circuit_density_over_training(
    run: Run, *, steps: Sequence[int] | None = None, n_points: int = 200, **options: Any
) -> pd.DataFrame:
    """Circuit density of the same training, test and random draws at each snapshot of
    ``run`` (Figure 3), one row per (epoch, set, layer), with the accuracies then."""
    rows = []
    for step in sorted(run.snapshots) if steps is None else steps:
        model = model_from_run(run, step)
        res = circuit_density(model, run.pairs_task, run.train_idx, n_points=n_points, **options)
        accs = history_at(run.history, step, ("train_acc", "test_acc"))
        for s in res.sets:
            for layer, (c, f) in enumerate(zip(res.mean_count[s], res.mean_per_neuron[s],
                                               strict=True)):  # fmt: skip
                rows.append({"epoch": float(step), "set": s, "layer": layer, "count": c,
                             "per_neuron": f, **accs})  # fmt: skip
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Plane:
    """Circuit density on the plane through three inputs (Figures 2 and 4): ``counts``
    (layers, grid, grid), per grid point the number of neurons whose sign differs from a
    neighbouring grid point's (so each neuron's zero-level set shows as a line); the
    plane's coordinates run over [-extent, extent] in both directions around the anchors'
    centroid; ``anchors`` (3, 2) are the three inputs in those coordinates."""

    counts: Tensor
    anchors: Tensor
    extent: float
    labels: tuple[str, ...]


def plane_extent(anchors: Float[Tensor, "3 2 d_model"], margin: float = 1.5) -> float:
    """``margin`` times the largest distance of an anchor from their centroid."""
    x = anchors.reshape(3, -1).double()
    return float(margin * (x - x.mean(0)).norm(dim=1).max())


@torch.no_grad()
def plane(
    model: Model,
    task: Task,
    anchors: Float[Tensor, "3 2 d_model"],
    *,
    grid: int = 120,
    extent: float | None = None,
    positions: Positions = "all",
    labels: Sequence[str] = ("", "", ""),
    chunk: int = 4096,
) -> Plane:
    """The plane through ``anchors`` (operand embeddings of three inputs), a ``grid`` x
    ``grid`` lattice of fixed half-width ``extent`` (default :func:`plane_extent`; pass
    the same value at every snapshot, as the paper fixes the area), and per MLP layer the
    neurons whose pre-activation changes sign between neighbouring lattice points."""
    _check(model, task)
    x = anchors.reshape(3, -1).double()
    centre = x.mean(0)
    e1 = x[1] - x[0]
    e1 = e1 / e1.norm()
    e2 = x[2] - x[0] - ((x[2] - x[0]) @ e1) * e1
    e2 = e2 / e2.norm().clamp_min(1e-12)
    extent = plane_extent(anchors) if extent is None else extent
    t = torch.linspace(-extent, extent, grid, dtype=torch.float64)
    ss, tt = torch.meshgrid(t, t, indexing="ij")
    pts = centre + ss.reshape(-1, 1) * e1 + tt.reshape(-1, 1) * e2
    d = model.cfg.d_model
    pts = pts.float().view(-1, 2, d)
    parts = [signs(model, task, pts[i : i + chunk], positions) for i in range(0, len(pts), chunk)]
    by_layer = [torch.cat([p[layer].cpu() for p in parts]) for layer in range(len(parts[0]))]
    counts = []
    for layer in by_layer:
        s = layer.view(grid, grid, -1)
        cut = torch.zeros(grid, grid, s.shape[-1], dtype=torch.bool)
        right, down = s[1:] != s[:-1], s[:, 1:] != s[:, :-1]
        cut[1:] |= right
        cut[:-1] |= right
        cut[:, 1:] |= down
        cut[:, :-1] |= down
        counts.append(cut.sum(-1))
    coords = torch.stack([(x - centre) @ e1, (x - centre) @ e2], dim=1).float()
    return Plane(counts=torch.stack(counts), anchors=coords, extent=extent, labels=tuple(labels))


def plane_figure(planes: Sequence[tuple[str, Plane]], title: str = "") -> go.Figure:
    """One row per (name, plane), one column per MLP layer: the density heatmap, the
    anchors marked (Figures 2 and 4)."""
    from plotly.subplots import make_subplots

    layers = planes[0][1].counts.shape[0]
    fig = make_subplots(rows=len(planes), cols=layers, horizontal_spacing=0.03,
                        vertical_spacing=0.03, subplot_titles=[
                            f"{name}, MLP {i}" for name,
                                _ in planes for i in range(layers)])  # fmt: skip
    for row, (_, pl) in enumerate(planes, start=1):
        t = np.linspace(-pl.extent, pl.extent, pl.counts.shape[-1])
        for col in range(1, layers + 1):
            fig.add_trace(go.Heatmap(x=t, y=t, z=pl.counts[col - 1].T.numpy(),
                                     colorscale="Viridis", showscale=False), row=row,
                                         col=col)  # fmt: skip
            fig.add_trace(go.Scatter(x=pl.anchors[:, 0].numpy(), y=pl.anchors[:, 1].numpy(),
                                     mode="markers+text", text=list(pl.labels),
                                     textposition="top center", showlegend=False,
                                     marker={"color": ["#e377c2", "#2ca02c", "#1f77b4"],
                                             "size": 8, "line": {"width": 1, "color": "white"}}),
                          row=row, col=col)  # fmt: skip
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(title=title or "Circuit formation on the plane through three training "
                      "inputs (Humayun et al., Figures 2 and 4)",
                      height=260 * len(planes) + 80, width=max(260 * layers + 120,
                                                               640))  # fmt: skip
    return fig
