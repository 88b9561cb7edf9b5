"""Liu et al.'s toy model: its forward, the stacked trainer against torch's AdamW, Run
files, sweeps and the report."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from grok_interp import analyze
from grok_interp.analyses.representation import representation_quality
from grok_interp.runs import load_run
from grok_interp.sweeps import Grid, run_sweep
from grok_interp.tasks import Task, TaskError
from grok_interp.toy import ToyLoop, build_toy, toy_model, toy_spec
from grok_interp.training import RunSpec, new_run, train, train_many


def reference(spec: RunSpec, steps: int) -> dict[str, torch.Tensor]:
    """One toy model trained the plain way: its own module, torch.optim.AdamW with the
    two parameter groups, the authors' loss (mean squared error onto the targets)."""
    run = new_run(spec)
    model = build_toy(spec.model, spec.task, seed=spec.seed)  # type: ignore[arg-type]
    cfg = spec.train
    decoder = [p for k, p in model.named_parameters() if k.startswith("decoder")]
    opt = torch.optim.AdamW(
        [{"params": [model.embed], "lr": cfg.lr_embed or cfg.lr,
          "weight_decay": cfg.weight_decay_embed or 0.0},
         {"params": decoder, "lr": cfg.lr, "weight_decay": cfg.weight_decay}],
        betas=cfg.betas,
    )  # fmt: skip
    pairs, labels = spec.task.pairs()[run.train_idx], spec.task.labels()[run.train_idx]
    for _ in range(steps):
        opt.zero_grad()
        h = model.embed[pairs[:, 0]] + model.embed[pairs[:, 1]]
        for k, layer in enumerate(model.decoder):
            h = layer(h) if k == len(model.decoder) - 1 else torch.tanh(layer(h))
        if spec.model.loss == "ce":  # type: ignore[union-attr]
            torch.nn.functional.cross_entropy(h, labels).backward()
        else:
            torch.mean((h - model.targets[labels]) ** 2).backward()
        opt.step()
    return {k: v.detach() for k, v in model.named_parameters()}


def small(seed: int = 0, name: str = "toy_1d", op: str = "sum", **train: object) -> RunSpec:
    train = {"epochs": 60, "eval_every": 20, "snapshot_every": 20, **train}
    spec = toy_spec(name, seed=seed, op=op, **train)
    return replace(spec, model=replace(spec.model, width=32))


@pytest.mark.parametrize(("name", "op"), [("toy_1d", "sum"), ("toy_1d_ce", "add"),
                                          ("toy_2d", "add")])
def test_stacked_training_equals_torch_adamw_per_member(name, op) -> None:
    # members differ in seed, learning rates, weight decay, betas and training-set size
    specs = [
        small(0, name, op),
        small(1, name, op, lr=3e-4, lr_embed=2e-3, weight_decay=0.5, weight_decay_embed=0.1),
        small(2, name, op, betas=(0.8, 0.99), n_train=30),
    ]
    runs = train_many(specs, progress=False)
    for spec, run in zip(specs, runs, strict=True):
        want = reference(spec, 60)
        for k, v in want.items():
            torch.testing.assert_close(run.weights[k], v, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_compiled_update_equals_the_eager_one() -> None:
    spec = small(0, epochs=20)
    eager = train(spec, progress=False)
    runs = [new_run(spec)]
    loop = ToyLoop([(runs[0], None)], torch.device("cpu"), compile=True)
    loop.run(False, 20)
    assert loop.opt.compile  # it compiled, rather than falling back
    for k, v in eager.weights.items():
        torch.testing.assert_close(runs[0].weights[k], v, rtol=1e-5, atol=1e-6)


def test_optimizer_state_loads_into_torch_adamw_and_resume_is_exact(tmp_path) -> None:
    spec = small(3)
    full = train(spec, progress=False)
    half = train(replace(spec, train=replace(spec.train, epochs=40)), out=tmp_path / "r.pt",
                 progress=False)  # fmt: skip
    # the saved state is torch.optim.AdamW's: it loads into one
    model = toy_model(half)
    decoder = [p for k, p in model.named_parameters() if k.startswith("decoder")]
    opt = torch.optim.AdamW([{"params": [model.embed]}, {"params": decoder}])
    opt.load_state_dict(half.optimizer)
    assert opt.state[model.embed]["step"] == 40
    resumed = load_run(tmp_path / "r.pt")
    resumed.train = spec.train
    train(resumed, out=tmp_path / "r.pt", progress=False)
    for k, v in full.weights.items():
        assert torch.equal(resumed.weights[k], v), k
    assert resumed.history["test_acc"] == full.history["test_acc"]


@pytest.mark.slow  # three seeds of the authors' setting to the end: the long tier
def test_toy_model_groks_with_the_authors_defaults_and_reports_its_representation(
    tmp_path,
) -> None:
    outs = [tmp_path / f"s{s}.pt" for s in range(3)]
    runs = train_many([toy_spec(seed=s) for s in range(3)], outs=outs, progress=False)
    grokked = [r for r in runs if r.history["test_acc"][-1] >= 0.9]
    assert len(grokked) >= 2  # the authors' Figure 3 setting: 45 of 55 pairs
    first = grokked[0]
    early = first.history["test_acc"][first.history["epoch"].index(500)]
    assert early < 0.5  # generalisation comes late, after memorisation
    rep = analyze(outs[runs.index(first)])
    r = rep.representation
    assert r is not None and r.rqi is not None and r.rqi > 0.9
    assert r.measured_test_acc == pytest.approx(first.history["test_acc"][-1])
    # the loop's vectorised RQI is the analysis's, over P_0(D) and over all quadruples
    assert first.history["rqi"][-1] == pytest.approx(r.rqi)
    pairs = first.task.pairs()
    every = representation_quality(first.weights["embed"], pairs[first.train_idx],
                                   pairs[first.test_idx], modulus=None, over="all")  # fmt: skip
    assert first.history["rqi_all"][-1] == pytest.approx(every.rqi)
    assert min(first.history["rqi"][:3]) < 0.5  # it starts far from linear
    assert "attention" in rep.not_run and rep.losses["train"][1] == 1.0


def test_recorded_rqi_is_the_analysis_rqi_on_ordered_pairs_too() -> None:
    spec = small(4, op="add")
    spec = replace(spec, task=Task(op="add", p=7), train=replace(spec.train, n_train=30))
    run = train(spec, progress=False)
    pairs = run.task.pairs()
    want = representation_quality(run.weights["embed"], pairs[run.train_idx],
                                  pairs[run.test_idx], modulus=7)  # fmt: skip
    assert run.history["rqi"][-1] == pytest.approx(want.rqi)


def test_sweep_over_a_toy_grid(tmp_path) -> None:
    grid = Grid(values={"train.lr": [1e-4, 1e-3], "seed": [0, 1]}, base=small(0))
    table = run_sweep(grid, tmp_path / "sw", progress=False)
    assert len(table) == 4 and set(table["train.lr"]) == {1e-4, 1e-3}
    assert (table["model.kind"] == "toy").all()


def test_bad_toy_inputs_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="toy models only"):
        train(RunSpec(task=Task(p=7), train=replace(RunSpec().train, lr_embed=1e-3,
                                                     epochs=1)), progress=False)  # fmt: skip
    spec = toy_spec()
    with pytest.raises(ValueError, match="adds two numbers"):
        train(replace(spec, task=Task(p=10, token_format="a o b =")), progress=False)
    with pytest.raises(TaskError, match="not commutative"):
        Task(op="sub", p=7, unordered=True)
    with pytest.raises(ValueError, match="unknown toy preset"):
        toy_spec("toy_9d")


def test_unordered_sum_task() -> None:
    t = Task(op="sum", p=10, unordered=True)
    pairs, labels = t.pairs(), t.labels()
    assert t.n_pairs == 55 and t.d_vocab_out == 19
    assert bool((pairs[:, 0] <= pairs[:, 1]).all()) and int(labels.max()) == 18
    assert Task(op="add", p=10, unordered=True).labels().max() == 9


def test_the_toy_model_is_a_hooked_root_module_with_unchanged_numbers() -> None:
    """Hook points, caches and interventions as on the other learners; the hooked forward
    gives bit for bit the scores of the stacked loop's functional forward."""
    from transformer_lens import HookedRootModule

    from grok_interp.toy import scores, stacked_layout

    spec = toy_spec("toy_2d", p=7, op="add")
    model = build_toy(spec.model, spec.task, seed=3)  # type: ignore[arg-type]
    assert isinstance(model, HookedRootModule)
    assert set(model.hook_dict) == {"hook_embed", "hook_hidden.0", "hook_hidden.1", "hook_out",
                                    "hook_scores"}  # fmt: skip
    pairs = spec.task.pairs()
    params = {k: stacked_layout(k, v[None]) for k, v in model.named_parameters()}
    with torch.no_grad():
        assert torch.equal(model(pairs), scores(params, pairs[None], model.spec)[0])
        out, cache = model.run_with_cache(pairs)
        e = model.embed
        assert torch.equal(cache["hook_embed"], e[pairs[:, 0]] + e[pairs[:, 1]])
        assert torch.equal(cache["hook_scores"], out)
        # zero E_i + E_j: every pair then scores what the decoder makes of the origin
        zeroed = model.run_with_hooks(pairs, fwd_hooks=[("hook_embed", lambda t, hook: t * 0)])
        h = torch.zeros(1, 2)
        for k, layer in enumerate(model.decoder):
            h = layer(h) if k == len(model.decoder) - 1 else torch.tanh(layer(h))
        origin = -((h - model.targets) ** 2).mean(-1)
        assert torch.allclose(zeroed, origin.expand_as(zeroed), atol=1e-6)
