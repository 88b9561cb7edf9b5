"""TransformerLens 3.9 and 4.x (grok_interp.tl): the state-dict conversion both ways,
a native TransformerBridge computing what a HookedTransformer computes with the same
weights (every analysis, every ablation row, the sigmoid replacement), interventions that
write where their maths needs on either kind, and Runs that cross between the majors.

Under 3.9 both kinds exist in one process (3.9 has ``TransformerBridge.boot_native``
too); under 4.x the reference is the HookedTransformer's numbers committed in analyses/
(tests/test_shipped.py) and the Runs trained under 3.9 in tests/data/.
Regenerate tests/data/tl<major>_*.pt with ``python -m tests.test_tl`` in each environment.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from grok_interp import fast, tl
from grok_interp.analyses.ablations import ablated_logits
from grok_interp.analyses.attention import attention_heads
from grok_interp.analyses.common import gather
from grok_interp.analyses.neurons import neuron_fits
from grok_interp.analyses.progress import final_key_freqs
from grok_interp.config import TrainConfig
from grok_interp.models import ModelPreset, build_model, preset
from grok_interp.report import analyze
from grok_interp.runs import load_run
from grok_interp.tasks import Task, split
from grok_interp.training import RunSpec, train

from .conftest import randomize

DATA = Path(__file__).parent / "data"
TASK = Task(op="add", p=17)
needs_hooked = pytest.mark.skipif(
    tl.major() >= 4, reason="TransformerLens 4 has no HookedTransformer to compare with"
)


def _hooked_state(n_layers=1, n_heads=2, d_model=8, d_head=3, d_mlp=5, vocab=(6, 4), ln=False):
    """A random HookedTransformer-layout state dict: every name the conversion knows."""
    gen = torch.Generator().manual_seed(0)
    shapes = {"embed.W_E": (vocab[0], d_model), "pos_embed.W_pos": (3, d_model),
              "unembed.W_U": (d_model, vocab[1]), "unembed.b_U": (vocab[1],)}  # fmt: skip
    for i in range(n_layers):
        b = f"blocks.{i}."
        for w in "QKV":
            shapes[f"{b}attn.W_{w}"] = (n_heads, d_model, d_head)
            shapes[f"{b}attn.b_{w}"] = (n_heads, d_head)
        shapes[b + "attn.W_O"], shapes[b + "attn.b_O"] = (n_heads, d_head, d_model), (d_model,)
        shapes[b + "mlp.W_in"], shapes[b + "mlp.b_in"] = (d_model, d_mlp), (d_mlp,)
        shapes[b + "mlp.W_out"], shapes[b + "mlp.b_out"] = (d_mlp, d_model), (d_model,)
        if ln:
            for n in ("ln1", "ln2"):
                shapes[f"{b}{n}.w"], shapes[f"{b}{n}.b"] = (d_model,), (d_model,)
    if ln:
        shapes["ln_final.w"], shapes["ln_final.b"] = (d_model,), (d_model,)
    return {k: torch.randn(s, generator=gen) for k, s in shapes.items()}


@pytest.mark.parametrize("ln", [False, True])
def test_state_dict_conversion_both_ways(ln):
    """Known answer: ``q.weight[h * d_head + e, d] = W_Q[h, d, e]`` and
    ``o.weight[d, h * d_head + e] = W_O[h, e, d]`` (nn.Linear's (out, in) layout); and
    the round trip is exact."""
    sd = _hooked_state(n_layers=2, ln=ln)
    br = tl.to_bridge_state(sd)
    W_Q, W_O = sd["blocks.1.attn.W_Q"], sd["blocks.1.attn.W_O"]
    h, d, e = 1, 5, 2
    assert br["blocks.1.attn.q.weight"][h * 3 + e, d] == W_Q[h, d, e]
    assert br["blocks.1.attn.o.weight"][d, h * 3 + e] == W_O[h, e, d]
    assert br["blocks.0.attn.k.bias"][h * 3 + e] == sd["blocks.0.attn.b_K"][h, e]
    assert torch.equal(br["blocks.0.mlp.in.weight"], sd["blocks.0.mlp.W_in"].T)
    assert torch.equal(br["unembed.weight"], sd["unembed.W_U"].T)
    assert ("blocks.0.ln2.weight" in br) == ln and ("ln_final.bias" in br) == ln
    back = tl.to_hooked_state(br, n_heads=2)
    assert back.keys() == sd.keys()
    for k in sd:
        assert torch.equal(back[k], sd[k]), k


def test_conversion_agrees_with_transformer_lens_4():
    """4.x ships a one-way converter (HookedTransformer -> bridge); ours gives the same."""
    conversion = pytest.importorskip("transformer_lens.utilities.tl_checkpoint_conversion")
    from transformer_lens.config import TransformerBridgeConfig

    sd = _hooked_state(ln=True)
    cfg = TransformerBridgeConfig(d_model=8, d_head=3, n_layers=1, n_ctx=3, n_heads=2)
    theirs = conversion.convert_tl_checkpoint(sd, cfg)
    ours = tl.to_bridge_state(sd)
    assert theirs.keys() == ours.keys()
    for k in theirs:
        assert torch.equal(theirs[k], ours[k]), k


def test_build_gives_the_installed_majors_kind():
    model = build_model(preset("small"), TASK)
    assert tl.is_transformer(model) and tl.is_bridge(model) == (tl.major() >= 4)
    assert type(model).__name__ == ("TransformerBridge" if tl.major() >= 4 else "HookedTransformer")
    assert not tl.is_transformer(torch.nn.Linear(2, 2))


def test_bridge_forward_is_the_hooked_layouts_forward():
    """The bridge with converted weights computes the table forward, which is
    HookedTransformer's forward written out (tests/test_fast.py): logits equal within
    float32 rounding; and reading the weights back gives them unchanged."""
    model = build_model(preset("small", frozen_biases=False), TASK, seed=0)
    randomize(model)
    bridge = tl.to_bridge(model)
    weights = {k: v.detach() for k, v in tl.hooked_params(model).items()}
    back = tl.hooked_params(bridge)
    assert back.keys() == weights.keys()
    for k in weights:
        assert torch.equal(back[k].detach(), weights[k]), k
    tokens = TASK.tokens()
    with torch.no_grad():
        expected = fast.last_logits({k: v[None] for k, v in weights.items()}, tokens[None])[0]
        scale = expected.abs().max().item()  # float32 rounding of sums of this size
        torch.testing.assert_close(bridge(tokens)[:, -1], expected, rtol=0, atol=1e-5 * scale)


def test_hooked_params_are_differentiable_on_a_bridge():
    """The table forward trains a bridge through its HookedTransformer-layout view: the
    gradient of W_Q reaches q.weight as its rearrangement."""
    bridge = tl.to_bridge(build_model(preset("small"), TASK, seed=0))
    W_Q = tl.hooked_params(bridge)["blocks.0.attn.W_Q"]
    W_Q.square().sum().backward()
    q = bridge.state_dict(keep_vars=True)["blocks.0.attn.q.weight"]
    torch.testing.assert_close(q.grad, 2 * q.detach())


def _report_numbers(report) -> dict:
    return json.loads(json.dumps(report.to_json({})))


def _assert_close_json(a, b, path=""):
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _assert_close_json(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close_json(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-9, nan_ok=True), path
    else:
        assert a == b, path


@needs_hooked
def test_every_analysis_is_the_same_on_a_bridge():
    """analyze() of a HookedTransformer and of a native bridge with its weights: every
    number of every analysis (ablation rows and the sigmoid replacement included)."""
    model = build_model(preset("small", frozen_biases=False), TASK, seed=0)
    randomize(model, 0.2)
    # key_freqs given: a random model has no sparse W_L, and they unlock the ablations
    ours = analyze(model, TASK, key_freqs=[2, 5])
    theirs = analyze(tl.to_bridge(model), TASK, key_freqs=[2, 5])
    assert ours.not_run == theirs.not_run and "ablations" in ours.results
    a, b = _report_numbers(ours), _report_numbers(theirs)
    assert "a HookedTransformer" in str(a["source"]) and "a TransformerBridge" in str(b["source"])
    a["source"] = b["source"]
    _assert_close_json(a, b)


@pytest.fixture(scope="module")
def mainline():
    run = load_run(Path(__file__).parents[1] / "checkpoints" / "mainline.pt")
    from grok_interp.runs import model_from_run

    return model_from_run(run), run


@needs_hooked
def test_every_ablation_row_and_the_sigmoid_replacement_on_the_mainline(mainline):
    """The shipped mainline as a HookedTransformer and as a bridge: every ablation row's
    logits over all pairs, and the attention analysis with its sigmoid replacement."""
    model, run = mainline
    task, keys = run.pairs_task, final_key_freqs(model)
    rows = {}
    for m in (model, tl.to_bridge(model)):
        data = gather(m, task, run.train_idx)
        fits = neuron_fits(m, task, key_freqs=keys, data=data)
        rows[type(m).__name__] = dict(ablated_logits(m, task, key_freqs=keys, neurons=fits,
                                                     data=data))  # fmt: skip
        rows[type(m).__name__ + " attention"] = attention_heads(m, task, data=data)
    ht, br = rows["HookedTransformer"], rows["TransformerBridge"]
    assert ht.keys() == br.keys() and len(ht) == 17
    for name in ht:
        torch.testing.assert_close(br[name], ht[name], rtol=1e-6, atol=1e-5, msg=name)
    a, b = rows["HookedTransformer attention"], rows["TransformerBridge attention"]
    assert b.loss_linear_sigmoid == pytest.approx(a.loss_linear_sigmoid, rel=1e-6)
    assert b.loss_linear_sigmoid["test"] > 2 * a.loss_model["test"]  # the replacement acts


def test_resid_mid_writes_reach_the_mlp_and_the_skip_connection():
    """An additive edit of resid_mid at the last position, written where tl says, gives
    resid_post = (mid + d) + MLP(mid + d) on either kind (computed here from the tables);
    on a bridge a write at hook_resid_mid alone would miss the skip connection."""
    model = build_model(preset("small", frozen_biases=False), TASK, seed=0)
    randomize(model, 0.2)
    tokens = TASK.tokens()
    d = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(1))

    def add(act, hook):
        act = act.clone()
        act[:, -1] += d
        return act

    w = {k: v.detach()[None] for k, v in tl.hooked_params(model).items()}
    mid = fast.residual_mid(w, tokens[None])[0] + d
    post = torch.relu(mid @ w["blocks.0.mlp.W_in"][0] + w["blocks.0.mlp.b_in"][0])
    resid = mid + post @ w["blocks.0.mlp.W_out"][0] + w["blocks.0.mlp.b_out"][0]
    expected = resid @ w["unembed.W_U"][0] + w["unembed.b_U"][0]
    for m in (model, tl.to_bridge(model)):
        hooks = [(name, add) for name in tl.resid_mid_writes(m, 0)]
        with torch.no_grad(), tl.mlp_in_hook(m):
            got = m.run_with_hooks(tokens, fwd_hooks=hooks)[:, -1]
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    bridge = tl.to_bridge(model)
    with torch.no_grad():
        alias = bridge.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_resid_mid", add)])
    assert (alias[:, -1] - expected).abs().max() > 1e-2  # the difference tl works around


# --- Runs across the majors ------------------------------------------------------------

SPEC = RunSpec(
    task=Task(op="add", p=13),
    model=ModelPreset(d_model=32, n_heads=2, d_head=16, d_mlp=64),
    train=TrainConfig(epochs=40, frac_train=0.5, eval_every=10, snapshot_every=20),
    seed=0,
)


def make_fixtures() -> None:
    """tests/data/tl<major>_half.pt (a Run stopped at epoch 20) and tl<major>_full.pt (the
    same run trained on to 40), trained under the installed major."""
    DATA.mkdir(exist_ok=True)
    half, full = DATA / f"tl{tl.major()}_half.pt", DATA / f"tl{tl.major()}_full.pt"
    short = replace(SPEC, train=replace(SPEC.train, epochs=20))
    train(short, out=half, overwrite=True, progress=False)
    run = load_run(half)
    run.train = SPEC.train
    train(run, out=full, overwrite=True, progress=False)


@pytest.mark.parametrize("trained_under", [3, 4])
def test_a_run_resumes_and_analyses_under_either_major(trained_under, tmp_path):
    """A Run trained under one major, stopped at epoch 20, resumes under the installed one
    to the weights and history it reached under its own (optimizer state converted by
    name; within float32 rounding), and analyze() reads it."""
    half = load_run(DATA / f"tl{trained_under}_half.pt")
    full = load_run(DATA / f"tl{trained_under}_full.pt")
    half.train = SPEC.train
    resumed = train(half, progress=False)
    for k, v in full.weights.items():
        torch.testing.assert_close(resumed.weights[k], v, rtol=1e-5, atol=1e-6, msg=k)
    for k, v in full.history.items():
        assert resumed.history[k] == pytest.approx(v, rel=1e-4, abs=1e-7), k
    report = analyze(DATA / f"tl{trained_under}_full.pt")
    assert report.losses["test"][0] == pytest.approx(full.history["test_loss"][-1], rel=1e-5)
    assert not math.isnan(report.losses["train"][0])


def test_a_seed_gives_the_same_run_under_both_majors():
    """One split and one initialisation (HookedTransformer's, drawn in its order) under
    both majors, and the same run: after 40 epochs the weights are equal bit for bit (the
    table forward reads contiguous HookedTransformer-layout copies of a bridge's weights;
    strided views had summed in another order, 2.2e-7 apart). The parameter norm sums a
    bridge's (out, in) layout in another order (1.8e-15)."""
    three, four = (load_run(DATA / f"tl{m}_full.pt") for m in (3, 4))
    assert torch.equal(three.train_idx, four.train_idx)
    assert torch.equal(three.train_idx, split(SPEC.task, frac_train=0.5, seed=0))
    for k in three.snapshots[0]:
        assert torch.equal(three.snapshots[0][k], four.snapshots[0][k]), k
    for k in three.weights:
        assert torch.equal(three.weights[k], four.weights[k]), k
    for k in three.history:
        assert three.history[k] == pytest.approx(four.history[k], rel=1e-12), k
    fresh = tl.hooked_state_dict(build_model(SPEC.model, SPEC.task, seed=SPEC.seed))
    for k in fresh:
        assert torch.equal(fresh[k], three.snapshots[0][k]), k


@needs_hooked
def test_hooked_init_on_a_bridge_is_hooked_transformers():
    """Known answer: the initialisation a 4.x bridge gets is HookedTransformer's own,
    checked under 3.9 where both exist (LayerNorm and attention-only shapes too)."""
    specs = [preset("small", normalization="LN", n_layers=2), preset("small", attn_only=True)]
    for spec in specs:
        model = build_model(spec, TASK, seed=3)
        bridge = tl.to_bridge(model)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(3)
            tl.hooked_init(bridge)
        theirs, ours = tl.hooked_state_dict(model), tl.hooked_state_dict(bridge)
        for k in theirs:
            assert torch.equal(theirs[k], ours[k]), k


if __name__ == "__main__":
    make_fixtures()
