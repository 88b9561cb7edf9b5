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
- **Positions read** (``positions``). By default (``"output"``) only the neurons whose
  output can reach the logits: the unembedding reads the answer (last) position, and with
  causal attention a layer's output at any position reaches it only through the attention
  of a later layer. So the last MLP layer counts at the answer position only, and every
  earlier MLP layer at every position (the answer position attends to all of them in
  every later layer). In a one-layer model this is the answer position's MLP alone: the
  a and b positions' neurons cut the space but never change the output, so they are not
  circuits of the network's function. ``"all"`` counts every position of every layer, as
  the authors' code flattens a layer's whole activation tensor (their MLPs and ResNets
  have no positions whose output is discarded); ``"final"`` the answer position in every
  layer. Whatever is chosen, the counts per position are kept too (``by_position``).
- **Per neuron**: the count divided by the number of units read in that layer (positions
  read x d_mlp; the authors' ``n_inter / match.shape[-1]``).
- **Random points** (``random``). The paper's Figure 3 takes "random points from the token
  embedding space" without saying how; the authors' code (``train_mlp_mnist.py``,
  ``train_resnet18_cifar10.py``) draws them uniformly from the input domain [0, 1]^D,
  the set every input lies in. The transformer's inputs are the operand embeddings, which
  have no such box: the residual stream has no privileged basis, and after grokking the
  number tokens' W_E is nearly low-rank, so a draw independent per coordinate puts most
  of its variance where no input can ever lie. The default (``"inputs"``) draws from the
  Gaussian with the mean and covariance of the p^2 input points in R^(2 d_model): the
  two operands independent (over all pairs a and b are), each N(mean, cov) of the number
  tokens' W_E rows, the basis-free counterpart of "a random point of the inputs'
  domain", supported on the inputs' affine span. ``"per_coordinate"`` keeps the earlier
  draw: each coordinate independently normal with that coordinate's mean and standard
  deviation over the W_E rows. Both rescale the same seeded standard-normal draws at every
  snapshot.

The plane (Figures 2 and 4; Section 3: "we consider a dense grid of points on the 2D
subspace and measure the circuit density as detailed above for an l1 neighborhood of
radius r = 0.05"): :func:`plane` gives the circuit density of each lattice point's
neighbourhood in the whole input space (``measure="density"``), or the neurons whose sign
differs from a neighbouring lattice point's (``"sign_changes"``), which draws the trace
of each zero-level set on the plane rather than the paper's measure.

Computation: all vertices of a chunk of points go through one forward
(``run_with_hooks``: a hook on ``hook_embed`` writes the vertices, hooks on each
``blocks.L.mlp.hook_pre`` keep the signs at every position, and the forward stops after
the last one), chunked to bound memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from grok_interp.analyses.common import (
    Result,
    check_model,
    history_at,
    require,
    require_pairs,
)
from grok_interp.runs import Run, model_from_run
from grok_interp.tasks import Task, heldout_indices
from grok_interp.tl import Model

Positions = Literal["output", "all", "final"]
RandomDraw = Literal["inputs", "per_coordinate"]
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
    return task.layout.a_pos, task.layout.b_pos


def position_labels(task: Task) -> tuple[str, ...]:
    return tuple("op" if s == "o" else s for s in task.layout.slots)


def read_mask(n_layers: int, n_ctx: int, positions: Positions) -> Bool[Tensor, "layers pos"]:
    """(layers, n_ctx) bool: the positions whose neurons count in each MLP layer (module
    docstring: ``"output"`` all positions below the last layer, the answer's in it)."""
    if positions not in ("output", "all", "final"):
        raise ValueError(f"positions must be 'output', 'all' or 'final', got {positions!r}")
    mask = torch.zeros(n_layers, n_ctx, dtype=torch.bool)
    mask[:, -1] = True
    if positions == "all":
        mask[:] = True
    elif positions == "output":
        mask[:-1] = True
    return mask


def operand_embeddings(
    model: Model, task: Task, pairs: Int[Tensor, "points 2"]
) -> Float[Tensor, "points 2 d_model"]:
    """(points, 2, d_model): W_E of a and of b for each pair."""
    w_e = model.W_E.detach()
    return torch.stack([w_e[pairs[:, 0]], w_e[pairs[:, 1]]], dim=1).float().cpu()


def random_points(model: Model, task: Task, n: int, seed: int = 0,
                  draw: RandomDraw = "inputs") -> Float[Tensor, "n 2 d_model"]:  # fmt: skip
    """``n`` random points (module docstring): ``"inputs"``, Gaussian with the mean and
    covariance of all the task's input points (mean + (X - mean)^T z / sqrt(N) with
    z ~ N(0, I_N) over the N inputs X, which has exactly that covariance);
    ``"per_coordinate"``, each coordinate from its own mean and std over W_E's rows."""
    gen = torch.Generator().manual_seed(seed)
    if draw == "per_coordinate":
        w = model.W_E.detach()[: task.p].float().cpu()
        return w.mean(0) + w.std(0) * torch.randn(n, 2, w.shape[1], generator=gen)
    if draw != "inputs":
        raise ValueError(f"draw must be 'inputs' or 'per_coordinate', got {draw!r}")
    x = operand_embeddings(model, task, task.pairs()).double()
    centred = (x - x.mean(0)).flatten(1)
    z = torch.randn(n, len(x), generator=gen, dtype=torch.float64)
    return (x.mean(0) + (z @ centred).view(n, *x.shape[1:]) / len(x) ** 0.5).float()


def _check(model: Model, task: Task) -> None:
    """A model that fits the task and has MLP layers, whose neurons the measure counts."""
    check_model(model, task, "circuit_density")
    require(not model.cfg.attn_only and model.cfg.d_mlp is not None, "circuit_density",
            "the model has no MLP layers, whose neurons the measure counts")  # fmt: skip


def signs(model: Model, task: Task,
          emb: Float[Tensor, "n 2 d_model"]) -> list[Bool[Tensor, "n pos d_mlp"]]:  # fmt: skip
    """Per MLP layer, the sign pattern (n, n_ctx, d_mlp) of the pre-activations at every
    position when the operand embeddings are ``emb``: one forward, a hook writing
    ``hook_embed`` at the operand positions and one reading each ``blocks.L.mlp.hook_pre``
    (module docstring)."""
    pos_a, pos_b = operand_positions(task)
    emb = emb.to(model.cfg.device)
    out: list[Tensor] = [torch.empty(0)] * model.cfg.n_layers

    def write(act: Tensor, hook: Any) -> Tensor:
        act = act.clone()
        act[:, pos_a], act[:, pos_b] = emb[:, 0].to(act.dtype), emb[:, 1].to(act.dtype)
        return act

    def keep(layer: int) -> Any:
        def hook(act: Tensor, hook: Any) -> None:
            out[layer] = act > 0
            if layer == model.cfg.n_layers - 1:
                raise _Done  # the rest of the forward reads no pre-activation

        return hook

    hooks: list[tuple[str, Any]] = [("hook_embed", write)]
    hooks += [(f"blocks.{i}.mlp.hook_pre", keep(i)) for i in range(model.cfg.n_layers)]
    tokens = task.tokens()[:1].expand(len(emb), -1).to(model.cfg.device)
    try:
        model.run_with_hooks(tokens, fwd_hooks=hooks, return_type=None)  # type: ignore[arg-type]
    except _Done:
        pass
    return out


class _Done(Exception):
    """Stops :func:`signs`' forward once the last MLP layer's pre-activations are read."""


@torch.no_grad()
def density_by_position(
    model: Model,
    task: Task,
    points: Float[Tensor, "points 2 d_model"],
    *,
    r: float = 0.05,
    n: int = 50,
    seed: int = 0,
    chunk: int | None = None,
) -> Int[Tensor, "points layers pos"]:
    """(points, layers, n_ctx): per point, MLP layer and position, the neurons whose
    pre-activation changes sign within the point's neighbourhood (module docstring)."""
    _check(model, task)
    d = model.cfg.d_model
    verts = frame(2 * d, n, r, seed).view(2 * n, 2, d)
    n_vert, n_ctx = len(verts), task.n_ctx
    chunk = chunk or max(1, (1 << 22) // (n_vert * n_ctx * (model.cfg.d_mlp or d)))
    counts = torch.zeros(len(points), model.cfg.n_layers, n_ctx, dtype=torch.long)
    for start in range(0, len(points), chunk):
        x = points[start : start + chunk].float()
        c = len(x)
        emb = (x[:, None] + verts[None]).reshape(c * n_vert, 2, d)
        for layer, s in enumerate(signs(model, task, emb)):
            s = s.view(c, n_vert, n_ctx, -1)
            counts[start : start + c, layer] = (s != s[:, :1]).any(1).sum(-1).cpu()
    return counts


def select(model: Model, by_position: Int[Tensor, "points layers pos"],
           positions: Positions) -> tuple[Int[Tensor, "points layers"],
                                          Float[Tensor, "points layers"]]:  # fmt: skip
    """(counts, per_neuron), each (points, layers), from :func:`density_by_position`'s
    counts: summed over the positions read in each layer, and divided by the units read."""
    mask = read_mask(model.cfg.n_layers, by_position.shape[-1], positions)
    counts = (by_position * mask).sum(-1)
    units = mask.sum(-1).double() * (model.cfg.d_mlp or 0)
    return counts, counts.double() / units.clamp_min(1)


def density(
    model: Model,
    task: Task,
    points: Float[Tensor, "points 2 d_model"],
    *,
    r: float = 0.05,
    n: int = 50,
    seed: int = 0,
    positions: Positions = "output",
    chunk: int | None = None,
) -> tuple[Int[Tensor, "points layers"], Float[Tensor, "points layers"]]:
    """Circuit density of each point: (counts, per_neuron), each (points, layers);
    ``counts`` the number of neurons read (``positions``) cut by the neighbourhood per MLP
    layer."""
    read_mask(1, 1, positions)  # refuse a bad choice before the forward
    byp = density_by_position(model, task, points, r=r, n=n, seed=seed, chunk=chunk)
    return select(model, byp, positions)


@dataclass(frozen=True)
class CircuitDensityResult(Result):
    """Mean circuit density per point set and MLP layer over the positions read
    (``mean_count``, ``mean_per_neuron``), and per position whether read or not
    (``mean_by_position``: set -> layer -> position; module docstring)."""

    sets: tuple[str, ...]
    n_points: dict[str, int]
    mean_count: dict[str, list[float]]
    sem_count: dict[str, list[float]]
    mean_per_neuron: dict[str, list[float]]
    mean_by_position: dict[str, list[list[float]]]
    position_labels: tuple[str, ...]
    r: float
    n: int
    positions: str
    random: str

    title = "Circuit density (Humayun, Balestriero and Baraniuk)"
    section = "Sections 2.1, 3; Figure 3"
    paper_name = "Humayun et al. 2024"

    def table(self) -> pd.DataFrame:
        rows = []
        for s in self.sets:
            for layer, (c, f) in enumerate(zip(self.mean_count[s], self.mean_per_neuron[s],
                                               strict=True)):  # fmt: skip
                at = zip(self.position_labels, self.mean_by_position[s][layer], strict=True)
                rows.append({"points": s, "n": self.n_points[s], "layer": layer,
                             "neurons cut (mean)": round(c, 2),
                             "s.e.": round(self.sem_count[s][layer], 2),
                             "per neuron": round(f, 4),
                             **{f"at {k}": round(v, 2) for k, v in at}})  # fmt: skip
        return pd.DataFrame(rows)

    def notes(self) -> list[str]:
        read = {"output": "the positions whose output reaches the logits (the last layer's "
                          "answer position, every position of earlier layers)",
                "all": "every position", "final": "the answer position"}[self.positions]
        draw = {"inputs": "from the Gaussian with the inputs' mean and covariance",
                "per_coordinate": "per coordinate from W_E's mean and std"}[self.random]
        return [f"neighbourhood: cross-polytope of radius r = {self.r} on {self.n} orthonormal "
                f"directions ({2 * self.n} vertices) in the operand embeddings' space; "
                f"neurons cut counted at {read}; 'at' columns: at each position, read or "
                f"not; random points drawn {draw}; s.e.: standard error of the mean "
                f"count over the {max(self.n_points.values())} points"]  # fmt: skip

    def figure(self) -> go.Figure:
        fig = go.Figure([go.Bar(name=s, x=[f"layer {i}" for i in range(len(v))], y=v,
                                error_y={"type": "data", "array": self.sem_count[s]})
                         for s, v in self.mean_count.items()])  # fmt: skip
        fig.update_layout(title=f"{self.title}: {self.section}", barmode="group",
                          xaxis_title="MLP layer",
                          yaxis_title="neurons cut per neighbourhood")  # fmt: skip
        return fig


def point_sets(model: Model, task: Task, train_idx: Int[Tensor, " n_train"] | None,
               n_points: int, seed: int = 0,
               random: RandomDraw = "inputs"
               ) -> dict[str, Float[Tensor, "points 2 d_model"]]:  # fmt: skip
    """Up to ``n_points`` seeded training and test inputs (when the split is known; all
    inputs otherwise) and random points (:func:`random_points`), as operand embeddings."""
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
    sets["random"] = random_points(model, task, n_points, seed, random)
    return sets


def circuit_density(
    model: Model,
    task: Task,
    train_idx: Int[Tensor, " n_train"] | None = None,
    *,
    n_points: int = 250,
    r: float = 0.05,
    n: int = 50,
    seed: int = 0,
    positions: Positions = "output",
    random: RandomDraw = "inputs",
) -> CircuitDensityResult:
    """Mean circuit density of training, test and random points (``n_points`` each), with
    the standard error of each mean. 250 points by default: on the shipped mainline the
    standard error is then about 0.5 neurons against a gap of 2.6 between training and
    random points (docs/humayun.md)."""
    require_pairs(task, "circuit_density")
    dim = 2 * model.cfg.d_model  # the operand embeddings' space (operand_embeddings)
    require(n <= dim, "circuit_density", f"n = {n} directions do not fit the operand "
            f"embeddings' {dim} dimensions; give n <= {dim}")  # fmt: skip
    read_mask(1, 1, positions)
    sets = point_sets(model, task, train_idx, n_points, seed, random)
    counts, sems, fracs, byp, sizes = {}, {}, {}, {}, {}
    for name, pts in sets.items():
        b = density_by_position(model, task, pts, r=r, n=n, seed=seed)
        c, f = select(model, b, positions)
        counts[name] = c.double().mean(0).tolist()
        sems[name] = (c.double().std(0) / len(c) ** 0.5).nan_to_num().tolist()
        fracs[name] = f.mean(0).tolist()
        byp[name] = b.double().mean(0).tolist()
        sizes[name] = len(pts)
    return CircuitDensityResult(sets=tuple(sets), n_points=sizes, mean_count=counts,
                                sem_count=sems,
                                mean_per_neuron=fracs, mean_by_position=byp,
                                position_labels=position_labels(task), r=r, n=n,
                                positions=positions, random=random)  # fmt: skip


@torch.no_grad()
def circuit_density_over_training(
    run: Run, *, steps: Sequence[int] | None = None, n_points: int = 200, **options: Any
) -> pd.DataFrame:
    """Circuit density of the same training, test and random draws at each snapshot of
    ``run`` (Figure 3), one row per (epoch, set, layer): ``count`` and ``per_neuron`` over
    the positions read, ``at <position>`` per position, and the accuracies then."""
    rows = []
    for step in sorted(run.snapshots) if steps is None else steps:
        model = model_from_run(run, step)
        res = circuit_density(model, run.pairs_task, run.train_idx, n_points=n_points, **options)
        accs = {"train_acc": math.nan, "test_acc": math.nan}  # NaN: not recorded (own Runs)
        accs |= history_at(run.history, step, [k for k in accs if k in run.history])
        for s in res.sets:
            for layer, (c, f) in enumerate(zip(res.mean_count[s], res.mean_per_neuron[s],
                                               strict=True)):  # fmt: skip
                at = zip(res.position_labels, res.mean_by_position[s][layer], strict=True)
                rows.append({"epoch": float(step), "set": s, "layer": layer, "count": c,
                             "per_neuron": f, **{f"at {k}": v for k, v in at},
                             **accs})  # fmt: skip
    return pd.DataFrame(rows)


PlaneMeasure = Literal["density", "sign_changes"]


@dataclass(frozen=True)
class Plane:
    """A measure on the plane through three inputs (Figures 2 and 4): ``counts`` (layers,
    grid, grid), per lattice point and MLP layer either (``measure="density"``, the
    paper's, Section 3) the circuit density of the point's neighbourhood, the neurons
    read that change sign within the cross-polytope of radius ``r`` around it in the whole
    input space, or (``"sign_changes"``) the neurons whose sign differs from a
    neighbouring lattice point's, which draws each zero-level set's trace on the plane as
    a line. The plane's coordinates run over [-extent, extent] in both directions around
    the anchors' centroid; ``anchors`` (3, 2) are the three inputs in those coordinates."""

    counts: Tensor
    anchors: Tensor
    extent: float
    labels: tuple[str, ...]
    measure: str = "density"


def plane_extent(anchors: Float[Tensor, "3 2 d_model"], margin: float = 1.5) -> float:
    """``margin`` times the largest distance of an anchor from their centroid."""
    x = anchors.reshape(3, -1).double()
    return float(margin * (x - x.mean(0)).norm(dim=1).max())


def _lattice(anchors: Tensor, grid: int, extent: float) -> tuple[Tensor, Tensor]:
    """The ``grid`` x ``grid`` lattice points (a-major in the first plane coordinate) of
    half-width ``extent`` on the plane through ``anchors``, and the anchors' coordinates."""
    x = anchors.reshape(3, -1).double()
    centre = x.mean(0)
    e1 = x[1] - x[0]
    e1 = e1 / e1.norm()
    e2 = x[2] - x[0] - ((x[2] - x[0]) @ e1) * e1
    e2 = e2 / e2.norm().clamp_min(1e-12)
    t = torch.linspace(-extent, extent, grid, dtype=torch.float64)
    ss, tt = torch.meshgrid(t, t, indexing="ij")
    pts = centre + ss.reshape(-1, 1) * e1 + tt.reshape(-1, 1) * e2
    coords = torch.stack([(x - centre) @ e1, (x - centre) @ e2], dim=1).float()
    return pts.float().view(-1, *anchors.shape[1:]), coords


def _sign_changes(layer: Tensor, grid: int) -> Tensor:
    """(grid, grid): per lattice point the neurons whose sign differs from a neighbour's."""
    s = layer.reshape(grid, grid, -1)
    cut = torch.zeros(grid, grid, s.shape[-1], dtype=torch.bool)
    right, down = s[1:] != s[:-1], s[:, 1:] != s[:, :-1]
    cut[1:] |= right
    cut[:-1] |= right
    cut[:, 1:] |= down
    cut[:, :-1] |= down
    return cut.sum(-1)


@torch.no_grad()
def plane(
    model: Model,
    task: Task,
    anchors: Float[Tensor, "3 2 d_model"],
    *,
    grid: int = 120,
    extent: float | None = None,
    positions: Positions = "output",
    measure: PlaneMeasure = "density",
    r: float = 0.05,
    n: int = 50,
    seed: int = 0,
    labels: Sequence[str] = ("", "", ""),
    chunk: int = 4096,
) -> Plane:
    """The plane through ``anchors`` (operand embeddings of three inputs), a ``grid`` x
    ``grid`` lattice of fixed half-width ``extent`` (default :func:`plane_extent`; pass
    the same value at every snapshot, as the paper fixes the area), and per MLP layer
    ``measure`` at each lattice point (:class:`Plane`; ``r``, ``n``, ``seed`` the
    neighbourhood of :func:`density`) over the neurons ``positions`` reads."""
    _check(model, task)
    if measure not in ("density", "sign_changes"):
        raise ValueError(f"measure must be 'density' or 'sign_changes', got {measure!r}")
    mask = read_mask(model.cfg.n_layers, task.n_ctx, positions)
    extent = plane_extent(anchors) if extent is None else extent
    pts, coords = _lattice(anchors, grid, extent)
    if measure == "density":
        counts, _ = density(model, task, pts, r=r, n=n, seed=seed, positions=positions)
        field = counts.T.reshape(-1, grid, grid)
    else:
        parts = [signs(model, task, pts[i : i + chunk]) for i in range(0, len(pts), chunk)]
        field = torch.stack([
            _sign_changes(torch.cat([p[layer][:, mask[layer]].cpu() for p in parts]), grid)
            for layer in range(model.cfg.n_layers)])  # fmt: skip
    return Plane(counts=field, anchors=coords, extent=extent, labels=tuple(labels),
                 measure=measure)  # fmt: skip


def plane_figure(planes: Sequence[tuple[str, Plane]], title: str = "") -> go.Figure:
    """One row per (name, plane), one column per MLP layer: the plane's measure as a
    heatmap, the anchors marked (Figures 2 and 4)."""
    from plotly.subplots import make_subplots

    layers = planes[0][1].counts.shape[0]
    # 30 px between rows for the subplot titles (plotly's spacing is a share of the plot area)
    fig = make_subplots(rows=len(planes), cols=layers, horizontal_spacing=0.03,
                        vertical_spacing=30 / (270 * len(planes)), subplot_titles=[
                            f"{name}, MLP {i}" for name,
                                _ in planes for i in range(layers)])  # fmt: skip
    for row, (_, pl) in enumerate(planes, start=1):
        t = np.linspace(-pl.extent, pl.extent, pl.counts.shape[-1])
        for col in range(1, layers + 1):
            fig.add_trace(go.Heatmap(x=t, y=t, z=pl.counts[col - 1].T.numpy(),
                                     coloraxis="coloraxis"), row=row, col=col)  # fmt: skip
            fig.add_trace(go.Scatter(x=pl.anchors[:, 0].numpy(), y=pl.anchors[:, 1].numpy(),
                                     mode="markers+text", text=list(pl.labels),
                                     textposition="top center", showlegend=False,
                                     # white with a dark halo: read on light and dark cells
                                     textfont={"color": "white", "shadow": "1px 1px 2px black"},
                                     marker={"color": ["#e377c2", "#2ca02c", "#1f77b4"],
                                             "size": 8, "line": {"width": 1, "color": "white"}}),
                          row=row, col=col)  # fmt: skip
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    what = {"density": "circuit density (neurons cut per neighbourhood)",
            "sign_changes": "neurons changing sign between lattice neighbours"}
    bar = {"density": "neurons cut", "sign_changes": "sign changes"}
    title = title or (f"{what.get(planes[0][1].measure, '')} on the plane through three "
                      "training inputs<br>(Humayun et al., Figures 2 and 4)")
    # the title hangs from the top (plotly anchors a title of several lines at its first
    # line's baseline, hence a line's height of padding); the margin holds its lines and
    # the first row's subplot titles
    top = 50 + 22 * (title.count("<br>") + 1)
    fig.update_layout(coloraxis={"colorscale": "Viridis", "colorbar": {
                          "title": {"text": bar.get(planes[0][1].measure, "")}}},
                      title={"text": title, "yref": "container", "y": 1, "yanchor": "top",
                             "pad": {"t": 30}}, margin={"t": top, "b": 20},
                      height=270 * len(planes) + top + 20,
                      width=max(260 * layers + 120, 640))  # fmt: skip
    return fig
