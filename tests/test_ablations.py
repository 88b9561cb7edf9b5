"""Known-answer tests for every ablation row (Nanda et al. 2023, Section 4.4, App. A.1).

The hand-built model: a one-layer HookedTransformer whose residual stream is laid out by
hand (logit space in dimensions 0..p-1, read by an identity W_U; attention values in two
more) and whose final MLP activations are set, at the last position, by a permanent hook:
a ReLU MLP cannot compute products of a and b exactly, and the ablations only read the
activations. Neurons 0-3 carry const + cos/sin(w_k(a+b)) of the key frequencies (neuron 0
with a small non-polynomial nuisance); neurons 4-6 carry nuisance terms that cancel
through W_L (W_L[4] + W_L[5] = -W_L[6], post[6] = post[4] + post[5]); neuron 7 carries
(a-b) and single-operand terms, and a little cos(w_5(a+b)) though its best frequency is 2.
Attention is uniform (W_Q = W_K = 0) and writes
(cos w_3(a-c) + cos w_3(b-c)) / 3 into logit space; the skip connection writes a constant.
Every row's logits are then known in closed form.
"""

import math

import pytest
import torch

from grok_interp.analyses.ablations import WELL_FIT_ROW, ablated_logits, ablations, restrict
from grok_interp.analyses.common import gather, loss_acc, pair_sets
from grok_interp.analyses.neurons import neuron_fits
from grok_interp.models import build_model, preset
from grok_interp.tasks import Task, split

P, KEYS, ALPHA = 17, [2, 5], {2: 6.0, 5: 4.0}
TASK = Task(op="add", p=P)
a = torch.arange(P, dtype=torch.float64)
A, B = (t.reshape(-1, 1) for t in torch.meshgrid(a, a, indexing="ij"))  # (pairs, 1), a-major
C = a[None, :]  # (1, c)


def cw(k, x):
    return torch.cos(2 * math.pi * k * x / P)


def sw(k, x):
    return torch.sin(2 * math.pi * k * x / P)


def neurons(parts: dict[int, dict[str, float]] | None = None) -> torch.Tensor:
    """The activations (pairs, 8), built from named terms; ``parts`` drops terms."""
    terms = [
        {"1": 1, "cos2(a+b)": 1, "cos3a": 0.1},
        {"1": 1, "sin2(a+b)": 1},
        {"1": 1, "cos5(a+b)": 1},
        {"1": 1, "sin5(a+b)": 1},
        {"1": 1, "cos2(a+b)": 1, "cos2(a-b)": 0.3},
        {"1": 1, "cos3a": 2},
        {"1": 2, "cos2(a+b)": 1, "cos2(a-b)": 0.3, "cos3a": 2},
        {"1": 1, "cos2(a-b)": 0.5, "cos5a": 0.4, "cos5(a+b)": 0.2},
    ]
    basis = {
        "1": torch.ones_like(A),
        "cos2(a+b)": cw(2, A + B),
        "sin2(a+b)": sw(2, A + B),
        "cos5(a+b)": cw(5, A + B),
        "sin5(a+b)": sw(5, A + B),
        "cos2(a-b)": cw(2, A - B),
        "cos3a": cw(3, A),
        "cos5a": cw(5, A),
    }
    cols = []
    for n, t in enumerate(terms):
        keep = (parts or {}).get(n, t)
        cols.append(sum(c * basis[name] for name, c in keep.items()))
    return torch.cat(cols, 1)


POST = neurons()
W_L = torch.stack(
    [ALPHA[2] * cw(2, a), ALPHA[2] * sw(2, a), ALPHA[5] * cw(5, a), ALPHA[5] * sw(5, a),
     2 * cw(3, a), 2 * cw(3, a), -2 * cw(3, a), cw(4, a)]
)  # fmt: skip
SKIP = 0.5 * cw(1, C)  # W_E[=] in logit space: the same for every pair
ATT = (cw(3, A - C) + cw(3, B - C)) / 3
SIGNAL = sum(ALPHA[k] * cw(k, A + B - C) for k in KEYS)
LEAK = 0.2 * cw(5, A + B) * cw(4, C)  # neuron 7's cos(w_5(a+b)) through its W_L row


@pytest.fixture(scope="module")
def hand():
    d_model = P + 3
    model = build_model(
        preset("small", d_model=d_model, n_heads=1, d_head=4, d_mlp=8, frozen_biases=False),
        TASK,
        seed=0,
    )
    with torch.no_grad():
        for prm in model.parameters():
            prm.zero_()
        model.W_E[:P, P], model.W_E[:P, P + 1] = cw(3, a).float(), sw(3, a).float()
        model.W_E[P, :P] = SKIP[0].float()
        attn = model.blocks[0].attn
        attn.W_V[0, P, 0], attn.W_V[0, P + 1, 1] = 1.0, 1.0
        attn.W_O[0, 0, :P], attn.W_O[0, 1, :P] = cw(3, a).float(), sw(3, a).float()
        model.W_U[:P] = torch.eye(P)
        model.blocks[0].mlp.W_out[:, :P] = W_L.float()

    def set_post(act, hook):
        act = act.clone()
        act[:, -1] = POST.to(act)
        return act

    model.add_perma_hook("blocks.0.mlp.hook_post", set_post)
    train_idx = split(TASK, frac_train=0.4, seed=0)
    data = gather(model, TASK, train_idx)
    fits = neuron_fits(model, TASK, key_freqs=KEYS, data=data)
    return model, data, fits


def test_hand_model_is_what_it_says(hand):
    _, data, fits = hand
    torch.testing.assert_close(data.logits.double(), SKIP + ATT + POST @ W_L, atol=1e-4, rtol=0)
    assert fits.well_fit.tolist() == [True] * 5 + [False] * 3
    assert fits.best_freq.tolist() == [2, 2, 5, 5, 2, 2, 2, 2]


def expected() -> dict[str, torch.Tensor]:
    mean = POST.mean(0)
    mlp = POST @ W_L
    degree2 = neurons({0: {"1": 1, "cos2(a+b)": 1}})
    sums = neurons(
        {0: {"1": 1, "cos2(a+b)": 1}, 4: {"1": 1, "cos2(a+b)": 1}, 5: {"1": 1},
         6: {"1": 2, "cos2(a+b)": 1}, 7: {"1": 1, "cos5(a+b)": 0.2}}
    )  # fmt: skip
    well_sums = torch.cat([sums[:, :5], POST[:, 5:]], 1)  # well-fit 0-4 have no other key
    on_span = torch.cat([POST[:, :4], mean[4:].expand(len(POST), 4)], 1)
    on_null = torch.cat([mean[:4].expand(len(POST), 4), POST[:, 4:]], 1)
    rows = {
        "none": SKIP + ATT + mlp,
        "restricted (only key frequencies)": SKIP + mean @ W_L + SIGNAL + LEAK,
        "excluded (all key frequencies removed)": SKIP + ATT + mlp - SIGNAL - LEAK,
        "neurons -> degree-2 fits": SKIP + ATT + degree2 @ W_L,
        "neurons -> cos/sin(w_k(a+b)) terms": SKIP + ATT + sums @ W_L,
        WELL_FIT_ROW: SKIP + ATT + well_sums @ W_L,
        "MLP acts projected on u_k, v_k": SKIP + ATT + on_span @ W_L,
        "MLP acts projected on their null space": SKIP + ATT + on_null @ W_L,
        "skip around MLP zeroed": mlp,
        "skip around MLP mean": SKIP + mlp,  # the attention term averages to zero
        "attention heads zeroed": SKIP + mlp,
        "attention heads mean": SKIP + mlp,
        "skip around attention zeroed": ATT + mlp,
        "skip around attention mean": SKIP + ATT + mlp,
    }
    for k in KEYS:
        rows[f"frequency {k} removed"] = SKIP + ATT + mlp - ALPHA[k] * cw(k, A + B - C)
    rows["frequency 5 removed"] -= LEAK
    return rows


def test_every_ablation_row_has_its_closed_form(hand):
    model, data, fits = hand
    got = dict(ablated_logits(model, TASK, key_freqs=KEYS, neurons=fits, data=data))
    want = expected()
    assert got.keys() == want.keys()
    for name, logits in got.items():
        torch.testing.assert_close(logits.double(), want[name], atol=1e-4, rtol=0, msg=name)
    # the well-fit-only restriction breaks the cancellation through W_L; every-neuron does not
    assert (got[WELL_FIT_ROW] - got["none"]).abs().max() > 0.1


def test_restricted_definitions_differ_as_derived(hand):
    _, data, _ = hand
    logits = data.logits
    # Section 5.1's 2x2 blocks keep (a-b) terms; Section 4.4's 3x3 blocks also keep
    # single-operand terms of a key frequency (neuron 7's cos 5a), not those of others.
    blocks2 = neurons({0: {"1": 1, "cos2(a+b)": 1}, 5: {"1": 1},
                       6: {"1": 2, "cos2(a+b)": 1, "cos2(a-b)": 0.3},
                       7: {"1": 1, "cos2(a-b)": 0.5, "cos5(a+b)": 0.2}})  # fmt: skip
    blocks3 = neurons({0: {"1": 1, "cos2(a+b)": 1}, 5: {"1": 1},
                       6: {"1": 2, "cos2(a+b)": 1, "cos2(a-b)": 0.3}})  # fmt: skip
    for definition, post in (("blocks2", blocks2), ("blocks3", blocks3)):
        torch.testing.assert_close(
            restrict(logits, KEYS, definition), SKIP + post @ W_L, atol=1e-4, rtol=0
        )


def test_losses_are_per_pair_set(hand):
    model, data, fits = hand
    res = ablations(model, TASK, key_freqs=KEYS, neurons=fits, data=data)
    sets = pair_sets(TASK, data.train_idx)
    want = expected()
    for row in res.rows:
        assert list(row.loss) == ["test", "train", "all"]
        for s, idx in sets.items():
            loss, acc = loss_acc(want[row.name][idx], TASK.labels()[idx])
            assert row.loss[s] == pytest.approx(loss, rel=1e-4, abs=1e-7), (row.name, s)
            assert row.accuracy[s] == pytest.approx(acc), (row.name, s)
    table = res.table()
    assert "paper (mainline)" not in table.columns  # p = 17 is not the paper's setup
    assert {"loss (test pairs)", "loss (train pairs)", "loss (all pairs)"} <= set(table.columns)
