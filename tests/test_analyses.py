"""Known-answer tests (hand-built tensors and weights whose Fourier structure is exact)
and real checkpoints for the Nanda et al. analyses."""

import math
import subprocess
import sys

import pytest
import torch

from grok_interp import fourier, tl
from grok_interp.analyses.ablations import keep_key_blocks, remove_sum_waves
from grok_interp.analyses.attention import attention_heads
from grok_interp.analyses.catalog import PAIR_ANALYSES
from grok_interp.analyses.common import AnalysisError, gather, loss_acc, run_hooked
from grok_interp.analyses.embedding import embedding_fourier
from grok_interp.analyses.logits import (
    fit_logits,
    neuron_logit_map,
    read_off,
    select_key_freqs,
    wave,
)
from grok_interp.analyses.neurons import (
    block_fve,
    fitted_activations,
    monomial_fve,
    neuron_fits,
)
from grok_interp.hooks import ablate_last, ablate_stored_term, project_last, store
from grok_interp.models import build_model, preset
from grok_interp.report import analyze
from grok_interp.runs import load_model
from grok_interp.tasks import Task

from .conftest import (
    CHUGHTAI,
    MAINLINE,
    NANDA_LOW_PRECISION,
    NANDA_NO_WD,
    external,
    randomize,
)

P = 17
KEYS = [2, 5]
TASK = Task(op="add", p=P)


def cosk(k, x):
    return torch.cos(2 * math.pi * k * x / P)


def sink(k, x):
    return torch.sin(2 * math.pi * k * x / P)


@pytest.fixture
def hand_model():
    """A model whose W_E holds frequencies 2 and 5 only, and whose W_L = W_out W_U holds
    cos/sin of 2 and 5 plus a known 0.1 cos(w_7 c) leak."""
    model = build_model(preset("small", d_model=16, n_heads=2, d_head=8, d_mlp=32), TASK, seed=0)
    x = torch.arange(P, dtype=torch.float32)
    with torch.no_grad():
        model.W_E.zero_()
        model.W_E[:P, 0], model.W_E[:P, 1] = cosk(2, x), sink(2, x)
        model.W_E[:P, 2], model.W_E[:P, 3] = 3 * cosk(5, x), 3 * sink(5, x)
        model.W_U.zero_()
        waves = [cosk(2, x), sink(2, x), cosk(5, x), sink(5, x), 0.1 * cosk(7, x)]
        for d, w in enumerate(waves):
            model.W_U[d] = w
        w_out = model.blocks[0].mlp.W_out
        w_out.zero_()
        w_out[:, :5] = torch.randn(32, 5, generator=torch.Generator().manual_seed(0))
    return model


def test_embedding_norms_exact(hand_model):
    res = embedding_fourier(hand_model, TASK)
    # norm of (cos, sin) pair over a: sqrt(P/2 + P/2) = sqrt(P); three times for k = 5
    assert res.norms[2] == pytest.approx(math.sqrt(P), rel=1e-5)
    assert res.norms[5] == pytest.approx(3 * math.sqrt(P), rel=1e-5)
    others = [i for i in range(len(res.norms)) if i not in (2, 5)]
    assert res.norms[others].abs().max() < 1e-4
    assert res.top(2) == [5, 2]
    # norms (0 x 6, x, 3x): Gini = ((2*7-9) x + (2*8-9) 3x) / (8 * 4x) = 26/32
    assert res.gini == pytest.approx(0.8125, abs=1e-5)


def test_key_frequencies_and_wl_residual_exact(hand_model):
    res = neuron_logit_map(hand_model, TASK)
    assert sorted(res.key_freqs) == KEYS
    w_l = (hand_model.blocks[0].mlp.W_out @ hand_model.W_U).detach().double()
    leak = w_l - w_l @ _projector(KEYS)  # the part outside the key cos/sin
    expected = leak.square().sum() / w_l.square().sum()
    assert res.residual_sq_fraction == pytest.approx(float(expected), rel=1e-4)
    assert res.residual_norm_fraction == pytest.approx(math.sqrt(float(expected)), rel=1e-4)
    assert res.residual_sq_fraction > 1e-4  # the k=7 leak is seen
    given = neuron_logit_map(hand_model, TASK, key_freqs=[2])
    assert given.key_freqs == (2,) and given.threshold is None


def _projector(keys):
    b = fourier.basis(P, torch.float64)
    rows = b[[i for k in keys for i in (2 * k - 1, 2 * k)]]
    return rows.T @ rows


def test_threshold_rule():
    norms = torch.tensor([9.0, 1.0, 0.2, 0.85, 0.29, 0.5])
    assert select_key_freqs(norms, 0.3) == [1, 3, 5]
    assert select_key_freqs(norms, 0.6) == [1, 3]


def _sum_waves():
    cols = [wave(P, k, kind).reshape(-1) for k in KEYS for kind in ("cos", "sin")]
    return torch.stack(cols, 1)  # neurons 0..3: cos2(a+b), sin2(a+b), cos5(a+b), sin5(a+b)


def test_table1_directions_exact():
    post = _sum_waves() * 2 + 1  # offsets must not matter
    x = torch.arange(P, dtype=torch.float64)
    w_l = torch.stack([cosk(2, x), sink(2, x), cosk(5, x), sink(5, x)]).float()
    res = read_off(post.float(), w_l, KEYS)
    assert [d.fve for d in res.directions] == pytest.approx([1.0] * 4, abs=1e-9)
    u2 = res.directions[0]
    assert {t for t, _ in u2.terms} == {"cos 2a cos 2b", "sin 2a sin 2b"}
    c = [c for _, c in u2.terms]
    assert c[0] == pytest.approx(-c[1]) and abs(c[0]) == pytest.approx(P, rel=1e-6)
    assert res.mean_fve == pytest.approx(1.0)


def test_logit_fit_exact():
    a = torch.arange(P, dtype=torch.float64)
    s = (a[:, None] + a[None, :]).reshape(-1, 1)
    logits = 3 * torch.cos(2 * math.pi * 2 * (s - a) / P) + 1.5 * torch.cos(
        2 * math.pi * 5 * (s - a) / P
    )
    logits = logits + torch.randn(P * P, 1, dtype=torch.float64)  # per-(a, b) offsets
    res = fit_logits(logits.float(), TASK.labels(), KEYS)
    assert res.alphas.tolist() == pytest.approx([3.0, 1.5], rel=1e-5)
    assert res.fve == pytest.approx(1.0, abs=1e-9)
    assert res.loss_fit["all"] == pytest.approx(res.loss_model["all"], rel=1e-4)


def test_logit_ablations_exact():
    a = torch.arange(P, dtype=torch.float64)
    s = (a[:, None] + a[None, :]).reshape(-1, 1)
    logits = 4 * torch.cos(2 * math.pi * 2 * (s - a) / P) + 3 * torch.cos(
        2 * math.pi * 5 * (s - a) / P
    )
    removed = remove_sum_waves(logits, P, KEYS)
    assert removed.abs().max() < 1e-9
    torch.testing.assert_close(keep_key_blocks(logits, P, KEYS), logits)
    noise = torch.randn(P * P, P, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kept = keep_key_blocks(logits + noise, P, KEYS)
    # what is kept is the projection: orthogonal to the residual
    assert float(((logits + noise - kept) * kept).sum()) == pytest.approx(0.0, abs=1e-6)
    labels = TASK.labels()
    excluded = loss_acc(remove_sum_waves(logits, P, KEYS), labels)[0]
    assert excluded == pytest.approx(math.log(P), rel=1e-9)  # all logits equal: uniform
    for size in (2, 3):
        restricted = keep_key_blocks(logits, P, KEYS, size=size)
        assert loss_acc(restricted, labels)[0] == pytest.approx(loss_acc(logits, labels)[0])


def test_neuron_fits_exact():
    a = torch.arange(P, dtype=torch.float64)
    A, B = torch.meshgrid(a, a, indexing="ij")
    grid = torch.stack(
        [
            cosk(2, A) * cosk(2, B) + 0.5 * sink(2, A),  # exactly degree-2 in frequency 2
            2 * sink(5, A) * cosk(5, B) - cosk(5, B),  # exactly degree-2 in frequency 5
            torch.relu(cosk(2, A) + cosk(2, B)),  # mostly frequency 2, not exactly
        ],
        -1,
    )
    fves, _ = block_fve(grid, KEYS)
    assert fves[0].tolist() == pytest.approx([1.0, 0.0], abs=1e-9)
    assert fves[1].tolist() == pytest.approx([0.0, 1.0], abs=1e-9)
    assert 0.5 < fves[2, 0] < 1.0 and fves[2, 1] < 0.05
    mono = monomial_fve(grid, KEYS)
    assert mono[0, 0] == pytest.approx(1.0) and mono[1, 1] == pytest.approx(1.0)
    assert mono[2, 0] >= fves[2, 0] - 1e-9  # the larger basis fits at least as well
    fitted = fitted_activations(grid.reshape(P * P, 3), P, torch.tensor([2, 5, 2]))
    torch.testing.assert_close(
        fitted[:, :2].double(), grid.reshape(P * P, 3)[:, :2], atol=1e-5, rtol=0
    )
    sums = _sum_waves()
    restricted = fitted_activations(sums + 1, P, torch.tensor([2, 2, 5, 5]), restricted=True)
    torch.testing.assert_close(restricted.double(), sums + 1, atol=1e-5, rtol=0)


def test_attention_score_lookup_exact():
    """A head whose score lookup is exactly 2 cos(w_3 a) - 1 sin(w_3 a)."""
    model = build_model(
        preset("small", d_model=8, n_heads=1, d_head=4, d_mlp=8, frozen_biases=False), TASK, seed=0
    )
    x = torch.arange(P, dtype=torch.float32)
    with torch.no_grad():
        model.W_E[:P] = 0
        model.W_E[:P, 0], model.W_E[:P, 1] = cosk(3, x), sink(3, x)
        model.W_E[P] = 0
        model.W_pos.zero_()
        attn = model.blocks[0].attn
        attn.W_Q.zero_(), attn.W_K.zero_()
        attn.W_K[0, 0, 0], attn.W_K[0, 1, 1] = 1.0, 1.0
        model.W_E[P, 2], attn.W_K[0, 2, 2] = 1.0, 1.0  # '=' scores -40: never attended
        attn.b_Q[0] = torch.tensor([2.0, -1.0, -40.0, 0.0]) * 2  # sqrt(d_head) = 2
    res = attention_heads(model, TASK)
    h = res.heads[0]
    assert (h.k, h.F, h.G, h.score_fve) == (
        3,
        pytest.approx(2.0, rel=1e-5),
        pytest.approx(-1.0, rel=1e-5),
        pytest.approx(1.0),
    )
    assert h.eq_attention < 1e-12 and h.intercept == pytest.approx(0.5, abs=1e-6)
    # sigma(C[a] - C[b]) with |C| <= sqrt(5) is close to linear: the wave fit holds
    assert h.pattern_fve > 0.9 and h.sigmoid_fve > 0.9
    assert math.copysign(1, h.alpha) == 1 and math.copysign(1, h.beta) == -1
    assert res.score_norms[0, 3] == res.score_norms[0].max()


def test_tail_runner_equals_full_forward():
    model = build_model(preset("small", frozen_biases=False), TASK, seed=0)
    randomize(model, 0.2)
    data = gather(model, TASK)
    last = "blocks.0."
    proj = torch.eye(model.cfg.d_mlp)[:, :10] @ torch.eye(model.cfg.d_mlp)[:10]
    cache = {}
    hook_sets = [
        [],
        [(last + "mlp.hook_post", project_last(proj))],
        [(last + "hook_attn_out", ablate_last("mean"))],
        [
            (last + "hook_resid_mid", store(cache, last + "hook_resid_mid")),
            (last + "hook_resid_post", ablate_stored_term(cache, last + "hook_resid_mid", "zero")),
        ],
    ]
    for hooks in hook_sets:
        with torch.no_grad():
            full = model.run_with_hooks(TASK.tokens(), fwd_hooks=hooks)[:, -1]
        torch.testing.assert_close(run_hooked(data, hooks), full, rtol=1e-4, atol=1e-4)


def test_chughtai_key_frequencies_and_report():
    report = analyze(external(CHUGHTAI))
    assert not report.not_run
    assert set(report.results["neuron_logit_map"].key_freqs) == {16, 30, 56}
    assert report.results["neuron_logit_map"].residual_sq_fraction < 0.01
    assert report.results["logit_fit"].fve > 0.9
    assert report.results["directions"].mean_fve > 0.9
    assert report.results["neurons"].well_fit.float().mean() > 0.8
    abl = report.results["ablations"]
    none = abl.get("none").loss["all"]
    assert none == pytest.approx(1.585e-7, rel=1e-2)  # the fixture README's figure
    assert abl.get("excluded (all key frequencies removed)").loss["all"] > 5
    assert abl.get("restricted (only key frequencies)").loss["all"] < 2 * none
    assert abl.get("neurons -> cos/sin(w_k(a+b)) terms").loss["all"] < 2 * none
    assert abl.get("MLP acts projected on u_k, v_k").loss["all"] < 2 * none
    assert abl.get("skip around attention mean").loss["all"] == pytest.approx(none, rel=1e-3)
    # the paper's setup; the split is the authors', drawn again from their cfg.json
    assert report.setup_differences == ()
    assert any("ReLU assumed" in a for a in report.assumptions)
    assert any("Chughtai et al.'s split" in a for a in report.assumptions)
    t5 = report.table5().set_index("quantity")
    assert "paper (mainline)" in t5.columns and list(report.losses) == ["test", "train", "all"]
    assert report.losses["test"][1] == 1.0 and "loss (test pairs)" in t5.index
    assert t5.loc["key frequencies", "ours"] == "16, 56, 30"
    # with the authors' split the test losses stand beside the paper's where comparable
    assert any(v != "-" for v in abl.table()["paper (mainline)"])


@pytest.mark.parametrize("path", [NANDA_NO_WD, NANDA_LOW_PRECISION])
def test_authors_checkpoints_do_not_crash(path, tmp_path):
    report = analyze(external(path))
    assert not report.not_run, report.not_run
    written = report.save(tmp_path)
    assert all(p.exists() and p.stat().st_size > 0 for p in written)


def test_layernorm_lists_every_analysis_not_run_and_key_freqs_unlock_some():
    task = Task(p=11)
    ln = build_model(preset("small", normalization="LN"), task, seed=0)
    report = analyze(ln, task)
    # read from W_E, the logits, the MLP signs and the input gradients: LayerNorm is no bar
    ran = {"embedding", "efficiency", "representation", "circuit_density", "algorithm",
           "irreps"}
    assert set(report.results) == ran
    assert set(report.not_run) == set(PAIR_ANALYSES) - ran
    assert "LN" in report.not_run["neuron_logit_map"]
    assert "LayerNorm" in report.not_run["attention"]
    assert "give key_freqs" in report.not_run["logit_fit"]
    given = analyze(ln, task, key_freqs=[1, 2])
    assert "logit_fit" in given.results  # needs only the logits and the key frequencies
    assert "LN" in given.not_run["neurons"]
    text = given.to_markdown()
    assert all(why in text for why in given.not_run.values())


def test_a_model_that_does_not_fit_the_task_raises():
    model, _ = load_model(external(CHUGHTAI))
    with pytest.raises(AnalysisError, match="does not fit"):
        analyze(model, Task(op="add", p=97))
    sub = analyze(model, Task(op="sub", p=113))
    assert "sub" in sub.not_run["logit_fit"] and "neurons" in sub.results


def test_random_model_reports_no_sparse_structure():
    task = Task(p=113)
    model = build_model(preset("mainline"), task, seed=0)
    report = analyze(model, task)
    wl = report.results["neuron_logit_map"]
    assert wl.key_freqs == () and wl.n_above_threshold > 28
    assert "no sparse Fourier structure" in report.not_run["neurons"]
    assert f"{wl.n_above_threshold} of 56" in report.not_run["neurons"]
    assert "none: no sparse structure" in report.table5().set_index("quantity").loc[
        "key frequencies", "ours"]  # fmt: skip
    assert "attention" in report.results  # needs no key frequency
    assert "nan" not in report.to_markdown()


def test_attention_only_model_runs_what_needs_no_mlp():
    task = Task(p=11)
    model = build_model(preset("small", attn_only=True), task, seed=0)
    report = analyze(model, task)
    assert {"embedding", "attention"} <= set(report.results)
    assert "no MLP" in report.not_run["neuron_logit_map"]


def test_two_layer_model_says_which_layer_each_analysis_reads():
    task = Task(p=13)
    model = build_model(preset("small", n_layers=2), task, seed=0)
    randomize(model, 0.3)
    report = analyze(model, task, key_freqs=[1, 2])
    assert report.results["ablations"].layer == 1
    assert report.results["neurons"].layer == 1
    assert {h.layer for h in report.results["attention"].heads} == {0, 1}
    md = report.to_markdown()
    assert "layer 1's MLP" in md and "Heads of each of the 2 layers" in md
    assert "layer 0: all" in md  # the earlier MLP's row


def _stacked(one, inert: int):
    """A 2-layer copy of the 1-layer ``one`` whose block ``inert`` adds nothing to the
    residual stream (no attention scores, W_O and W_out zero) and whose other block is
    ``one``'s: its outputs are ``one``'s, and the live block's activations too."""
    two = build_model(preset("mainline", n_layers=2), Task(p=113), seed=0)
    own, live = tl.hooked_params(two), tl.hooked_params(one)
    params = {n: torch.zeros_like(t) for n, t in own.items()}
    for name in own:
        parts = name.split(".")
        if parts[0] != "blocks":
            params[name] = live[name]
        elif int(parts[1]) != inert:
            params[name] = live[".".join(["blocks", "0", *parts[2:]])]
    from grok_interp.models import load_params

    load_params(two, params)
    return two


def test_later_layers_attention_and_earlier_mlps_read_like_the_one_layer_model():
    """Known answer: the shipped mainline's block put second (under an inert first block)
    or first (under an inert second one) of a 2-layer model. The layer-1 heads' pattern
    fits are the 1-layer model's layer-0 fits; the inert layer is named, not fitted; the
    earlier MLP's neurons are the 1-layer model's, counted over every frequency."""
    one, task = load_model(MAINLINE)
    keys = [14, 35, 41, 42, 52]
    base_att = attention_heads(one, task)
    base_neu = neuron_fits(one, task, key_freqs=list(range(1, 57)))
    top = _stacked(one, inert=0)
    torch.testing.assert_close(top(task.tokens())[:, -1], one(task.tokens())[:, -1])
    att = attention_heads(top, task)
    assert att.flat_layers == (0,) and {h.layer for h in att.heads} == {1}
    for h, b in zip(att.heads, base_att.heads, strict=True):
        assert h.k == b.k  # the pattern's best frequency is the score lookup's
        assert h.pattern_fve == pytest.approx(b.pattern_fve, abs=1e-6)
        assert h.alpha == pytest.approx(b.alpha, abs=1e-6)
        assert h.sigmoid_slope == pytest.approx(b.sigmoid_slope, rel=1e-4)
    assert any("Layer(s) 0 not fitted" in n for n in att.notes())
    bottom = _stacked(one, inert=1)
    neu = neuron_fits(bottom, task, key_freqs=keys)
    (early,) = neu.earlier
    assert early.layer == 0 and neu.layer == 1
    assert early.n_well_fit == int(base_neu.well_fit.sum()) > 350
    assert dict(early.by_freq) == {c.k: c.n_neurons for c in base_neu.clusters}
    att = attention_heads(bottom, task)  # layer 1 attends uniformly: named
    assert att.flat_layers == (1,) and att.heads[0].score_fve == base_att.heads[0].score_fve


def test_foreign_gelu_needs_its_activation_and_the_report_says_what_was_assumed(tmp_path):
    task = Task(p=13)
    gelu = build_model(preset("small", act_fn="gelu"), task, seed=0)
    randomize(gelu, 0.5)
    path = tmp_path / "gelu.pt"
    torch.save(tl.hooked_state_dict(gelu), path)  # the HookedTransformer layout, either major
    want = gelu(task.tokens())[:, -1]
    assumed = analyze(path)
    assert any("ReLU assumed" in a for a in assumed.assumptions)
    assert "Assumed: activation ReLU" in assumed.to_markdown()
    given = analyze(path, act_fn="gelu")
    assert not any("ReLU" in a for a in given.assumptions)
    torch.testing.assert_close(given.model(task.tokens())[:, -1], want)
    model, _ = load_model(path, act_fn="gelu")
    torch.testing.assert_close(model(task.tokens())[:, -1], want)


REFUSALS = """
from grok_interp.analyses.circuit_density import circuit_density
from grok_interp.analyses.common import AnalysisError
from grok_interp.analyses.efficiency import efficiency
from grok_interp.analyses.embedding import embedding_fourier
from grok_interp.analyses.logits import neuron_logit_map
from grok_interp.analyses.representation import representation
from grok_interp.models import ModelPreset, build_model
from grok_interp.parity import ParityTask
from grok_interp.sequences import SeqTask

for task in (SeqTask(kind="skip_trigram"), ParityTask(n_ctx=12)):
    model = build_model(ModelPreset(d_model=32, n_heads=2, d_head=16, d_mlp=64), task)
    for fn in (efficiency, representation, circuit_density, embedding_fourier,
               neuron_logit_map):
        try:
            fn(model, task)
        except AnalysisError as e:
            print(repr(str(e)))
"""


def test_pair_analyses_refuse_other_families_tasks_in_one_line():
    """Each analysis of pairs (a, b) given a sequence or parity task names the task it
    was given, as an AnalysisError, rather than an AttributeError from inside. In a
    process of its own: the test suite's type checker would refuse the task first."""
    out = subprocess.run([sys.executable, "-c", REFUSALS], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    said = [eval(line) for line in out.stdout.splitlines()]  # the messages' reprs
    names = ["efficiency", "representation", "circuit_density", "embedding", "analyze"] * 2
    tasks = ["skip trigram, length 10 (App. D.3)"] * 5 + ["streaming parity"] * 5
    assert len(said) == 10, out.stdout
    for msg, name, task in zip(said, names, tasks, strict=True):
        assert msg.startswith(name + ": applies to tasks on pairs (a, b)"), msg
        assert f"not to {task}" in msg and "\n" not in msg, msg
