"""Clock or pizza (Zhong et al. 2023): hand-built models whose measures are known exactly,
the shipped mainline and the external checkpoints."""

import math

import pytest
import torch

from grok_interp import tl
from grok_interp.analyses.algorithm import (
    CLOCK,
    MIXED,
    PIZZA,
    Thresholds,
    algorithm,
    circularity,
    correct_logit_grid,
    distance_irrelevance,
    sample_triples,
)
from grok_interp.analyses.common import AnalysisError
from grok_interp.hooks import attention_rate
from grok_interp.runs import load_model
from grok_interp.tasks import Task

from .conftest import CHUGHTAI, NANDA_LOW_PRECISION, NANDA_NO_WD, external, hand_built, weights

P = 7
TASK = Task(op="add", p=P)
W = 2 * math.pi / P
BIG = 1e4  # attention scores this far apart give softmax weights of exactly 0 and 1


def _model(d_model: int, n_heads: int, d_mlp: int, act_fn: str, task: Task = TASK) -> tl.Model:
    model = hand_built(
        n_layers=1, d_model=d_model, n_heads=n_heads, d_head=2, d_mlp=d_mlp, act_fn=act_fn,
        normalization_type=None, d_vocab=task.d_vocab, d_vocab_out=P, n_ctx=task.n_ctx,
    )  # fmt: skip
    t = torch.arange(P, dtype=torch.float32)
    with weights(model) as w:
        w["embed.W_E"][:P, 0], w["embed.W_E"][:P, 1] = torch.cos(W * t), torch.sin(W * t)
    return model.eval()


def pizza_model(rate_hook: bool = False) -> tl.Model:
    """Uniform attention puts h = E_a + E_b at '='; ReLU pairs give each logit
    |h.u_c| - |h.v_c| with u_c = (cos wc/2, sin wc/2), v_c = u_c turned by 90 degrees, so
    the correct logit is 2|cos(w (a-b)/2)|, a function of a - b alone, and every logit a
    function of E_a + E_b. With ``rate_hook``, random queries and keys are overridden by
    attention rate 0 (weight 1 on each key) instead of zero queries and keys (1/3 each)."""
    model = _model(2 + P, 1, 4 * P, "relu")
    with weights(model) as w:
        w["blocks.0.attn.W_V"][0] = torch.eye(model.cfg.d_model, 2)
        w["blocks.0.attn.W_O"][0] = torch.eye(2, model.cfg.d_model) * (1.0 if rate_hook else 3.0)
        if rate_hook:
            gen = torch.Generator().manual_seed(0)
            w["blocks.0.attn.W_Q"].normal_(generator=gen)
            w["blocks.0.attn.W_K"].normal_(generator=gen)
        half = W * torch.arange(P) / 2
        u = torch.stack([torch.cos(half), torch.sin(half)], 1)
        v = torch.stack([-torch.sin(half), torch.cos(half)], 1)
        for c in range(P):
            for j, (direction, sign) in enumerate([(u, 1), (-u, 1), (v, -1), (-v, -1)]):
                w["blocks.0.mlp.W_in"][:2, 4 * c + j] = direction[c]
                w["blocks.0.mlp.W_out"][4 * c + j, 2 + c] = sign
        w["unembed.W_U"][2:, :] = torch.eye(P)
    if rate_hook:
        model.add_perma_hook("blocks.0.attn.hook_pattern", attention_rate(0.0))
    return model


def clock_model(task: Task = TASK) -> tl.Model:
    """Head 0 copies E_a, head 1 copies E_b (scores BIG apart: weights exactly 1 and 0);
    squaring neurons (relu2 pairs, xy = ((x+y)^2 - (x-y)^2)/4) form Re and Im of
    e^{iw(a+b)}, and W_U reads logit c = cos(w (a+b-c)), plus b_U[c] = 0.05 c. So the
    correct logit is 1 + 0.05 ((a+b) mod p), a function of a + b alone, and the gradient
    cosine of a triple is cos(w (a - b)) (the module docstring). Positions are one-hot
    in dims 11 on; b sits at position 1 ('a b =') or 2 ('a o b =')."""
    n_ctx = task.n_ctx
    model = _model(11 + n_ctx, 2, 16, "relu2", task)
    with weights(model) as w:
        w_q, w_k, w_v, w_o = (w[f"blocks.0.attn.W_{x}"] for x in "QKVO")
        w_in, w_out = w["blocks.0.mlp.W_in"], w["blocks.0.mlp.W_out"]
        w["pos_embed.W_pos"][:, 11:] = torch.eye(n_ctx)
        b_pos = 1 if n_ctx == 3 else 2
        for head, (key_pos, out) in enumerate([(0, 5), (b_pos, 7)]):  # a -> dims 5,6; b -> 7,8
            w_q[head, 11 + n_ctx - 1, 0] = 1.0
            w_k[head, 11 + key_pos, 0] = BIG
            w_v[head, 0, 0] = w_v[head, 1, 1] = 1.0
            w_o[head, 0, out] = w_o[head, 1, out + 1] = 1.0
        xa, ya, xb, yb = 5, 6, 7, 8
        products = [(xa, xb, 9, 1), (ya, yb, 9, -1), (xa, yb, 10, 1), (ya, xb, 10, 1)]
        n = 0
        for x, y, target, sign in products:
            for y_sign, weight in [(1, 0.25), (-1, -0.25)]:  # (x+y)^2/4 - (x-y)^2/4
                for s in (1, -1):  # z^2 = relu(z)^2 + relu(-z)^2
                    w_in[x, n], w_in[y, n] = s, s * y_sign
                    w_out[n, target] = sign * weight
                    n += 1
        c = torch.arange(P, dtype=torch.float32)
        w["unembed.W_U"][9], w["unembed.W_U"][10] = torch.cos(W * c), torch.sin(W * c)
        w["unembed.b_U"][:] = 0.05 * c
    return model


def test_hand_built_models_are_correct():
    for model in (pizza_model(), pizza_model(rate_hook=True), clock_model()):
        with torch.no_grad():
            logits = model(TASK.tokens())[:, -1]
        assert (logits.argmax(-1) == TASK.labels()).all()


def test_pizza_measures_exact():
    for model in (pizza_model(), pizza_model(rate_hook=True)):
        res = algorithm(model, TASK)
        d = (torch.arange(P)[None, :].expand(P, P)).double()
        expected = 2 * torch.cos(math.pi * d / P).abs()  # L[s, d] = 2 |cos(w d / 2)|
        torch.testing.assert_close(res.correct_logits, expected, atol=1e-5, rtol=0)
        assert res.distance_irrelevance == pytest.approx(0, abs=1e-5)
        torch.testing.assert_close(res.cosines, torch.ones_like(res.cosines), atol=1e-6, rtol=0)
        assert res.verdict == PIZZA


@pytest.mark.parametrize("layout", ["a b =", "a o b ="])
def test_clock_measures_exact(layout):
    task = Task(op="add", p=P, token_format=layout)
    res = algorithm(clock_model(task), task)  # 1000 >= 7^3: every triple, each once
    a, b, c = res.triples.T
    assert len(set((res.triples @ torch.tensor([P * P, P, 1])).tolist())) == P**3
    torch.testing.assert_close(res.cosines, torch.cos(W * (a - b)).double(), atol=1e-5, rtol=0)
    assert res.gradient_symmetricity == pytest.approx(0, abs=1e-6)  # sum of cos(w d) = 0
    s = torch.arange(P)[:, None].expand(P, P).double()
    torch.testing.assert_close(res.correct_logits, 1 + 0.05 * s, atol=1e-5, rtol=0)
    assert res.distance_irrelevance == pytest.approx(1, abs=1e-4)
    assert res.verdict == CLOCK
    assert "read them with care" not in " ".join(res.notes())


def test_distance_irrelevance_hand_computed():
    grid = torch.tensor([[0.0, 2.0], [2.0, 0.0]])  # column stds 1, 1; overall std 1
    assert distance_irrelevance(grid) == pytest.approx(1.0)
    grid = torch.tensor([[0.0, 2.0], [0.0, 2.0]])  # column stds 0, 0
    assert distance_irrelevance(grid) == 0.0
    grid = torch.tensor([[0.0, 0.0], [4.0, 0.0]])  # column stds 2, 0; overall std sqrt(3)
    assert distance_irrelevance(grid) == pytest.approx(1 / math.sqrt(3))


def test_correct_logit_grid_layout():
    p = 5
    logits = torch.zeros(p * p, p)
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    logits[torch.arange(p * p), (a + b) % p] = (10 * a + b).float()
    grid = correct_logit_grid(logits, p)
    assert grid[(3 + 4) % p, (3 - 4) % p] == 34 and grid[(1 + 0) % p, 1] == 10


def test_circularity_known_answers():
    """Principal components that are Fourier waves give 1; components that each spread
    their power equally over two frequencies give 1/2 (2 (p/2)^2 / (p * p) per frequency,
    Definition B.1); a 5th, smaller component is not read."""
    p = 31
    j = torch.arange(p, dtype=torch.float64)

    def wave(k, f=torch.cos):
        return f(2 * math.pi * k * j / p)

    circle = [3 * wave(2), 3 * wave(2, torch.sin), 2 * wave(5), 2 * wave(5, torch.sin),
              0.5 * (wave(7) + wave(9))]  # fmt: skip
    assert circularity(torch.stack(circle, 1)) == pytest.approx(1.0, abs=1e-12)
    pairs = [4 * (wave(1) + wave(2)), 3 * (wave(3) + wave(4)), 2 * (wave(5) + wave(6)),
             wave(7) + wave(8)]  # fmt: skip
    assert circularity(torch.stack(pairs, 1) + 7.0) == pytest.approx(0.5, abs=1e-12)
    noise = torch.randn(p, 64, generator=torch.Generator().manual_seed(0))
    assert circularity(noise) < 0.5
    with pytest.raises(AnalysisError, match="circularity"):
        circularity(torch.zeros(p, 3))


def test_shipped_mainline_embedding_is_circular():
    """The mainline's number embeddings are Fourier circles: circular by the paper's
    cut-off (>= 0.995, App. B)."""
    model, task = load_model("checkpoints/mainline.pt")
    assert circularity(tl.hooked_params(model)["embed.W_E"][: task.p]) >= 0.995


def test_triples_are_distinct_and_seeded():
    t = sample_triples(113, 1000, seed=42)
    assert len(set(map(tuple, t.tolist()))) == 1000 and int(t.max()) < 113
    assert torch.equal(t, sample_triples(113, 1000, seed=42))
    assert not torch.equal(t, sample_triples(113, 1000, seed=1))


def test_thresholds():
    t = Thresholds()
    assert t.verdict(0.99, 0.2) == PIZZA and t.verdict(0.3, 0.85) == CLOCK
    assert t.verdict(0.95, 0.6) == MIXED and t.verdict(0.99, 0.9) == MIXED
    res = algorithm(pizza_model(), TASK, thresholds=Thresholds(pizza_symmetricity=1.5))
    assert res.verdict == MIXED and any("read them with care" in n for n in res.notes())


def test_no_algorithm_named_for_a_model_that_does_not_add():
    model = clock_model()
    with weights(model) as w:
        w["unembed.b_U"][:] = 5.0 * torch.arange(P)  # the bias outvotes cos(w (a+b-c)) <= 1
    res = algorithm(model, TASK)
    assert res.accuracy < 0.99 and res.verdict == MIXED
    assert any("No algorithm is named" in n for n in res.notes())


def test_refusals():
    with pytest.raises(AnalysisError, match="a \\+ b mod p"):
        algorithm(clock_model(), Task(op="sub", p=P))


def test_result_displays():
    res = algorithm(clock_model(), TASK)
    table = res.table()
    assert list(table["value"])[-1] == CLOCK
    assert res.figure().data[0].z is not None and "Clock or pizza" in res._repr_html_()


@pytest.mark.parametrize("path", ["checkpoints/mainline.pt", CHUGHTAI, NANDA_LOW_PRECISION])
def test_real_clock_models(path):
    """Nanda et al.'s algorithm is the clock: the mainline and both external models trained
    with weight decay (gradient symmetricity 0.16 to 0.34, irrelevance 0.83 to 0.94)."""
    model, task = load_model(path if isinstance(path, str) else external(path))
    res = algorithm(model, task)
    assert res.gradient_symmetricity < 0.5 and res.distance_irrelevance > 0.8
    assert res.verdict == CLOCK


def test_no_weight_decay_model_is_not_a_pizza():
    model, task = load_model(external(NANDA_NO_WD))
    res = algorithm(model, task)
    assert res.gradient_symmetricity < 0.5 and res.verdict != PIZZA


def test_runs_inside_no_grad_and_leaves_no_hook():
    model = clock_model()
    with torch.no_grad():  # as analyze() calls it
        res = algorithm(model, TASK)
    a, b, _ = res.triples.T
    torch.testing.assert_close(res.cosines, torch.cos(W * (a - b)).double(), atol=1e-5, rtol=0)
    assert not any(hp.fwd_hooks for hp in model.hook_dict.values())


def _report_of(model):
    from grok_interp.report import analyze

    return analyze(model, TASK)


def test_report_states_the_clock_verdict_beside_the_tables():
    """analyze() of the hand-built clock: the measures in report.json, the verdict in the
    summary table, and no caveat."""
    report = _report_of(clock_model())
    values = report.to_json()["results"]["algorithm"]["values"]
    assert values["verdict"] == CLOCK
    assert values["gradient_symmetricity"] == pytest.approx(0, abs=1e-6)
    assert values["distance_irrelevance"] == pytest.approx(1, abs=1e-4)
    row = report.table5().set_index("quantity").loc["algorithm (Zhong et al.)", "ours"]
    assert row.startswith("clock (symmetricity 0.000, irrelevance 1.000)")
    assert report.algorithm is not None
    assert not any("read them with care" in n for n in report.summary_notes())


@pytest.mark.parametrize("rate_hook", [False, True])
def test_report_warns_on_a_pizza(rate_hook):
    """analyze() of the hand-built pizza: verdict pizza in JSON and in the Markdown
    summary, with the caveat on Nanda et al.'s tables under the summary."""
    report = _report_of(pizza_model(rate_hook))
    values = report.to_json()["results"]["algorithm"]["values"]
    assert values["verdict"] == PIZZA
    assert values["gradient_symmetricity"] == pytest.approx(1, abs=1e-6)
    assert values["distance_irrelevance"] == pytest.approx(0, abs=1e-5)
    md = report.to_markdown()
    summary = md.split("### ")[1]  # the summary table and its notes
    assert "pizza (symmetricity 1.000, irrelevance 0.000)" in summary
    assert "Algorithm pizza" in summary and "read them with care" in summary


def test_report_lists_algorithm_as_not_run_for_another_operation():
    task = Task(op="mul", p=P)
    report = analyze_bare(clock_model(), task)
    assert "algorithm" not in report.results
    assert "a + b mod p" in report.not_run["algorithm"]


def analyze_bare(model, task):
    from grok_interp.report import analyze

    return analyze(model, task)
