"""Circuit density (Humayun et al.): hyperplanes placed by hand, GELU, the positions read,
the random points' distribution, the plane's measures, batching, and the shipped
mainline."""

from __future__ import annotations

import pytest
import torch

from grok_interp import tl
from grok_interp.analyses.circuit_density import (
    circuit_density_over_training,
    density,
    density_by_position,
    frame,
    operand_embeddings,
    plane,
    random_points,
)
from grok_interp.analyses.common import AnalysisError
from grok_interp.runs import load_run, model_from_run
from grok_interp.tasks import Task

from .conftest import hand_built, weights

TASK = Task(p=5)


def placed(act_fn: str = "relu", n_layers: int = 1) -> tl.Model:
    """One layer (or ``n_layers``, each alike) whose attention writes nothing and whose
    three neurons have the hyperplanes x_0 = 0, x_1 = 0 and x_2 = 5 in the residual
    stream."""
    model = hand_built(n_layers=n_layers, d_model=4, n_heads=1, d_head=4, d_mlp=3,
                       act_fn=act_fn, d_vocab=TASK.d_vocab, d_vocab_out=TASK.p,
                       n_ctx=3, normalization_type=None)  # fmt: skip
    with weights(model) as w:
        for layer in range(n_layers):
            w_in = w[f"blocks.{layer}.mlp.W_in"]
            w_in[0, 0] = w_in[1, 1] = w_in[2, 2] = 1.0
            w[f"blocks.{layer}.mlp.b_in"][:] = torch.tensor([0.0, 0.0, -5.0])
        w["embed.W_E"][TASK.eq_token] = torch.tensor([3.0, 3.0, 0.0, 0.0])  # far from all three
    return model


def points(*pairs: tuple[list[float], list[float]]) -> torch.Tensor:
    return torch.tensor([[a, b] for a, b in pairs], dtype=torch.float32)


@pytest.mark.parametrize("act_fn", ["relu", "gelu"])
def test_hand_placed_hyperplanes_are_counted(act_fn):
    model = placed(act_fn)
    x = points(
        ([1, 1, 0, 0], [2, -1, 0, 0]),  # far from every hyperplane
        ([0, 0, 0, 1], [1, 1, 0, 0]),  # a lies on x_0 = 0 and x_1 = 0
        ([1, 1, 0, 0], [1, 1, 5, 0]),  # b lies on x_2 = 5
        ([0, 0, 5, 0], [0, 2, 5, 0]),  # a on all three, b on two
    )
    counts, _ = density(model, TASK, x, r=1e-3, n=8, positions="all")  # n = 8 spans R^8
    assert counts[:, 0].tolist() == [0, 2, 1, 5]
    # the = position sees only its own, constant embedding: nothing there can change the
    # output, so the default (the neurons whose output reaches the logits) counts none
    for positions in ("output", "final"):
        assert density(model, TASK, x, r=1e-3, n=8, positions=positions)[0].sum() == 0
    assert density(model, TASK, x, r=1e-3, n=8)[0].sum() == 0
    # a frame spanning R^8 has, along every axis, a direction of component >= 1/sqrt(8):
    # a radius of 100 reaches every hyperplane at both operand positions
    wide, _ = density(model, TASK, x, r=100.0, n=8, positions="all")
    assert wide[:, 0].tolist() == [6, 6, 6, 6]


def test_batched_equals_one_point_at_a_time():
    run = load_run("checkpoints/mainline.pt")
    model = model_from_run(run, 2000)
    x = torch.randn(7, 2, 128) * 0.5
    batched, _ = density(model, run.task, x, n=10)
    single = torch.cat([density(model, run.task, x[i : i + 1], n=10, chunk=1)[0]
                        for i in range(len(x))])  # fmt: skip
    assert torch.equal(batched, single)


def test_frame_is_orthonormal_and_seeded():
    v = frame(16, 5, r=0.05, seed=3)
    u = v[:5] / 0.05
    assert v.shape == (10, 16) and torch.allclose(v[5:], -v[:5])
    assert torch.allclose(u @ u.T, torch.eye(5), atol=1e-6)
    assert torch.equal(v, frame(16, 5, r=0.05, seed=3))
    with pytest.raises(ValueError, match="n \\(directions\\)"):
        frame(4, 5)


def test_attention_only_model_is_refused():
    model = hand_built(n_layers=1, d_model=4, n_heads=1, d_head=4, attn_only=True,
                       d_vocab=TASK.d_vocab, d_vocab_out=TASK.p, n_ctx=3)  # fmt: skip
    with pytest.raises(AnalysisError, match="no MLP"):
        density(model, TASK, torch.zeros(1, 2, 4))


def test_mainline_positions_read():
    """On the shipped mainline: the MLP outputs at the a and b positions never reach the
    logits (the default leaves them out), the answer position's do; the count at the a
    position depends on a alone; the default is the answer position's column."""
    run = load_run("checkpoints/mainline.pt")
    model = model_from_run(run)
    tokens = run.task.tokens()[:50]
    clean = model(tokens)[:, -1]
    noise = torch.randn(50, 3, model.cfg.d_model, generator=torch.Generator().manual_seed(0))

    def patched(where):
        def hook(act, hook):
            act[:, where] += noise[:, where]
            return act

        return model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_mlp_out", hook)])[:, -1]

    assert torch.equal(patched([0, 1]), clean)
    assert (patched([2]) - clean).abs().max() > 1
    pairs = torch.tensor([[5, 7], [5, 90], [5, 31], [60, 7]])
    x = operand_embeddings(model, run.task, pairs)
    by_pos = density_by_position(model, run.task, x, n=20)[:, 0]
    assert len(set(by_pos[:3, 0].tolist())) == 1  # same a, same count at a
    assert by_pos[:, 2].unique().numel() > 1  # the answer position sees a and b
    assert torch.equal(density(model, run.task, x, n=20)[0][:, 0], by_pos[:, 2])
    assert not model.hook_dict["blocks.0.mlp.hook_pre"].fwd_hooks  # the early stop cleans up
    assert torch.equal(density(model, run.task, x, n=20, positions="all")[0][:, 0],
                       by_pos.sum(-1))  # fmt: skip


def test_mainline_readme_numbers_at_cleanup_start_and_end():
    """The README's Figure 3 numbers for the mainline at 7k and 40k
    (``humayun_fig03_density.py`` at its defaults, 200 points per set): the answer
    position's density, and every position's (the paper's flattening)."""
    run = load_run("checkpoints/mainline.pt")
    got = circuit_density_over_training(run, steps=[7000, 40000]).set_index(["epoch", "set"])
    readme = {"train": (9.9, 9.6), "test": (8.2, 9.8), "random": (9.7, 7.1)}
    for s, values in readme.items():
        assert [got.loc[(e, s), "count"] for e in (7000.0, 40000.0)] == pytest.approx(
            values, abs=0.051)
    every = got[["at a", "at b", "at ="]].sum(1)
    assert every[(40000.0, "train")] == pytest.approx(20.2, abs=0.051)
    assert every[(40000.0, "random")] == pytest.approx(19.6, abs=0.051)


def test_mainline_random_points_lie_where_inputs_lie():
    """After grokking W_E is nearly low-rank: the per-coordinate draw puts most of its
    spread (93%) off the principal directions holding 99% of the inputs' variance, the
    default about the 1% the inputs themselves have there."""
    run = load_run("checkpoints/mainline.pt")
    model = model_from_run(run)
    inputs = operand_embeddings(model, run.task, run.task.pairs())
    assert _off_span(random_points(model, run.task, 500), inputs) < 0.02
    assert _off_span(random_points(model, run.task, 500, draw="per_coordinate"), inputs) > 0.8


def copying() -> tl.Model:
    """``placed()`` with uniform attention (W_Q = W_K = 0, W_V = W_O = I) and a zero ``=``
    embedding: the MLP sees 2a at the a position, b + (a + b)/2 at b and (a + b)/3 at the
    answer position, so the answer position's neurons cut where (a + b)/3 meets x_0 = 0,
    x_1 = 0 or x_2 = 5."""
    model = placed()
    with weights(model) as w:
        w["blocks.0.attn.W_V"][0] = torch.eye(4)
        w["blocks.0.attn.W_O"][0] = torch.eye(4)
        w["embed.W_E"][TASK.eq_token] = 0.0
    return model


def test_positions_count_the_neurons_that_reach_the_output():
    x = points(
        ([1, 1, 0, 0], [-1, 2, 0, 0]),  # answer position on x_0 = 0 only
        ([0, 0, 0, 1], [1, 1, 0, 0]),  # a position (2a) on x_0 = 0 and x_1 = 0 only
        ([0, 0, 7.5, 0], [1, 1, 7.5, 0]),  # 2a on x_0 = x_1 = 0, (a + b)/3 on x_2 = 5
    )
    model = copying()
    by_pos = density_by_position(model, TASK, x, r=1e-3, n=8)
    assert by_pos[:, 0].tolist() == [[0, 0, 1], [2, 0, 0], [2, 0, 1]]
    out, per_out = density(model, TASK, x, r=1e-3, n=8)  # default: the answer position
    assert out[:, 0].tolist() == [1, 0, 1]
    assert per_out[:, 0].tolist() == pytest.approx([1 / 3, 0, 1 / 3])  # 3 neurons read
    every, per_all = density(model, TASK, x, r=1e-3, n=8, positions="all")
    assert every[:, 0].tolist() == [1, 2, 3]
    assert per_all[:, 0].tolist() == pytest.approx([1 / 9, 2 / 9, 3 / 9])  # 3 x 3 read


def test_deeper_model_counts_every_position_below_the_last_layer():
    """Two layers, attention and MLP outputs zero, so both layers see the embeddings:
    the point's a lies on x_0 = 0 and x_1 = 0. The first layer's neurons at a can reach
    the answer through the second layer's attention and count; the last layer's at a
    cannot."""
    model = placed(n_layers=2)
    x = points(([0, 0, 0, 1], [1, 1, 0, 0]))
    counts, per = density(model, TASK, x, r=1e-3, n=8)
    assert counts.tolist() == [[2, 0]]
    assert per.tolist()[0] == pytest.approx([2 / 9, 0.0])  # 3 positions x 3, then 1 x 3
    assert density(model, TASK, x, r=1e-3, n=8, positions="all")[0].tolist() == [[2, 2]]


def _off_span(draws: torch.Tensor, inputs: torch.Tensor, share: float = 0.99) -> float:
    """The share of the draws' spread about the inputs' mean that lies off the inputs'
    principal directions holding ``share`` of their variance."""
    x, y = inputs.flatten(1).double(), draws.flatten(1).double()
    _, sv, basis = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    basis = basis[: int(((sv**2).cumsum(0) < share * (sv**2).sum()).sum()) + 1]
    dev = y - x.mean(0)
    return float(((dev - dev @ basis.T @ basis) ** 2).sum() / (dev**2).sum())


def test_random_points_follow_the_inputs_distribution():
    """Number tokens on a circle in a random plane of R^6: the default draws stay in the
    inputs' span with their mean and covariance (operands independent, as over all
    pairs); the per-coordinate draw spreads over all six dimensions."""
    task = Task(p=11)
    cfg = tl.config(n_layers=1, d_model=6, n_heads=1, d_head=6, d_mlp=4, device="cpu",
                    d_vocab=task.d_vocab, d_vocab_out=task.p, n_ctx=3)  # fmt: skip
    model = tl.build(cfg, seed=0)
    plane_ = torch.linalg.qr(torch.randn(6, 2, generator=torch.Generator().manual_seed(1)))[0]
    angle = 2 * torch.pi * torch.arange(task.p) / task.p
    with weights(model) as w:
        w["embed.W_E"][: task.p] = torch.stack([angle.cos(), angle.sin()], 1) @ plane_.T + 0.5
    inputs = operand_embeddings(model, task, task.pairs()).flatten(1).double()
    draws = random_points(model, task, 40_000, seed=2)
    assert _off_span(draws, inputs) < 1e-10
    y = draws.flatten(1).double()
    assert torch.allclose(y.mean(0), inputs.mean(0), atol=0.02)
    cov_x, cov_y = torch.cov(inputs.T, correction=0), torch.cov(y.T)
    assert (cov_y - cov_x).abs().max() < 0.03 * cov_x.abs().max()  # includes a-b: zero
    coord = random_points(model, task, 40_000, seed=2, draw="per_coordinate")
    assert _off_span(coord, inputs) > 0.5
    assert torch.equal(draws, random_points(model, task, 40_000, seed=2, draw="inputs"))


def test_plane_draws_the_papers_density_per_lattice_point():
    """``copying()``: anchors with b = 0 and a in the (a_0, a_1) plane, so the lattice
    is a = (-s, 1/3 + t, 0, 0). At the answer position (a + b)/3 meets x_0 = 0 on the row
    s = 0 and x_1 = 0 at t = -1/3, between lattice points; the a and b positions meet
    a_0 = 0 on the same row."""
    model = copying()
    anchors = points(([1, 0, 0, 0], [0, 0, 0, 0]), ([-1, 0, 0, 0], [0, 0, 0, 0]),
                     ([0, 1, 0, 0], [0, 0, 0, 0]))  # fmt: skip
    row = torch.zeros(5, 5, dtype=torch.long)
    row[2] = 1
    pl = plane(model, TASK, anchors, grid=5, extent=1.0, r=1e-3, n=8)
    assert pl.measure == "density" and torch.equal(pl.counts[0], row)
    assert torch.equal(plane(model, TASK, anchors, grid=5, extent=1.0, r=1e-3, n=8,
                             positions="all").counts[0], 3 * row)  # fmt: skip
    # the other measure: the neurons whose sign differs from a lattice neighbour's (the
    # answer position's x_0 flips between s = -0.5 and 0, x_1 between t = -0.5 and 0)
    lines = plane(model, TASK, anchors, grid=5, extent=1.0, measure="sign_changes").counts[0]
    expected = torch.zeros(5, 5, dtype=torch.long)
    expected[1:3] += 1
    expected[:, 1:3] += 1
    assert torch.equal(lines, expected)
