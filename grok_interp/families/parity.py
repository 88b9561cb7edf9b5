"""The family of streaming parity (van Rossem & Saxe 2025; the task:
:mod:`grok_interp.streaming`): the paper's recurrent network or a transformer on binary
strings, trained by SGD on batches of one length at a time with the MSE of the last
position, analysed by the automaton its hidden states implement
(:mod:`grok_interp.analyses.automaton`).

The model (:class:`HookedRNN`): the authors' ``parity/model.py`` built from torch's own
:class:`torch.nn.RNNCell` and :class:`torch.nn.Linear`, with TransformerLens hook points.
Inputs are one-hot symbols, the initial state is all ones (their ``init_hidden``), weight
matrices are Xavier-normal with gain 0.1 and biases zero, the read-out is linear onto
the one-hot target (2 outputs), trained with MSE and plain SGD (lr 0.02, batches of 128
strings of one length, lengths in increasing order every epoch, 1,000 epochs; our
:func:`parity_spec`). Where we differ: the authors' forward returns the last position
only (many-to-one), ours every position (the per-position accuracy on long strings reads
it); the training loss is still the last position's, as theirs, and as every prefix of a
training string is itself a training string, that is every position's. Shuffling within a
length is seeded by (seed, epoch), so runs resume bit for bit.

Hook points: ``hook_h`` fires once per step on that step's state (batch, d_hidden)
*before* it feeds the next step, with ``hook.ctx["pos"]`` the position, so a hook that
patches it changes everything downstream; ``hook_hidden`` fires once on the stacked
states (batch, pos, d_hidden) before the read-out (``run_with_cache`` reads them there).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from grok_interp.analyses import automaton as am
from grok_interp.analyses import catalog
from grok_interp.analyses.common import Result, pct, sci
from grok_interp.analyses.interaction import InteractionResult, interaction_over_training
from grok_interp.analyses.lengths import length_generalisation
from grok_interp.config import PRESETS, ModelPreset, RNNPreset, TrainConfig
from grok_interp.families.base import AnalyzeOptions
from grok_interp.families.stepwise import StepwiseFamily, TokenBatch
from grok_interp.models import build_model
from grok_interp.reporting import Report
from grok_interp.runs import Run, RunSpec
from grok_interp.streaming import (
    ParityTask,
    all_strings,
    eval_strings,
    mse,
    node_id,
    node_lengths,
    node_strings,
    parity_targets,
    prefix_fit,
    prefix_rows,
    random_strings,
)

__all__ = ["HookedRNN", "ParityTask", "all_strings", "build_rnn", "eval_strings",
           "length_batches", "mse", "node_id", "node_lengths", "node_strings", "parity_spec",
           "parity_targets", "prefix_fit", "prefix_rows", "random_strings"]  # fmt: skip

class HookedRNN(HookedRootModule):
    """One recurrent layer (:class:`torch.nn.RNNCell`) and a linear read-out, with hook
    points (module docstring). ``forward(tokens)`` maps (batch, pos) symbols to (batch,
    pos, d_out) outputs; ``h0`` replaces the initial state (batch, d_hidden)."""

    h_init: Tensor  # a buffer (declared: the typed HookedRootModule of 4.x and 3.9)

    def __init__(self, spec: RNNPreset, d_in: int = 2, d_out: int = 2) -> None:
        super().__init__()
        self.spec, self.d_in = spec, d_in
        self.cell = nn.RNNCell(d_in, spec.d_hidden, nonlinearity=spec.nonlinearity)
        self.readout = nn.Linear(spec.d_hidden, d_out)
        self.register_buffer("h_init", torch.full((spec.d_hidden,), float(spec.h0)))
        self.hook_h = HookPoint()
        self.hook_hidden = HookPoint()
        self.setup()

    def initial_state(self, batch: int) -> Float[Tensor, "batch d_hidden"]:
        return self.h_init.expand(batch, -1)

    def hidden(self, tokens: Int[Tensor, "batch pos"],
               h0: Float[Tensor, "batch d_hidden"] | None = None
               ) -> Float[Tensor, "batch pos d_hidden"]:  # fmt: skip
        """The state after each position (batch, pos, d_hidden)."""
        x = F.one_hot(tokens, self.d_in).to(self.h_init.dtype)
        h = self.initial_state(tokens.shape[0]) if h0 is None else h0
        states = []
        for t in range(tokens.shape[1]):
            self.hook_h.ctx["pos"] = t
            h = self.hook_h(self.cell(x[:, t], h))
            states.append(h)
        return self.hook_hidden(torch.stack(states, 1))

    def forward(self, tokens: Int[Tensor, "batch pos"],
                h0: Float[Tensor, "batch d_hidden"] | None = None
                ) -> Float[Tensor, "batch pos d_out"]:  # fmt: skip
        return self.readout(self.hidden(tokens, h0))


def build_rnn(spec: RNNPreset, *, seed: int = 0, device: str | torch.device = "cpu") -> HookedRNN:
    """A freshly initialised :class:`HookedRNN` (the authors' init), seeded without
    touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HookedRNN(spec)
        for p in model.parameters():
            if p.ndim == 2:
                nn.init.xavier_normal_(p, gain=spec.gain)
            else:
                nn.init.zeros_(p)
    return model.to(device)


def length_batches(task: ParityTask, batch_size: int | None, seed: int,
                   epoch: int) -> list[Int[Tensor, "batch length"]]:  # fmt: skip
    """One epoch's batches (the authors' ``training_run``): for each length in increasing
    order, its strings shuffled by a generator seeded by (seed, epoch), cut into batches
    of ``batch_size`` (None: one batch per length)."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + 7919 * epoch + 17)
    out = []
    for n in range(task.min_len, task.max_len + 1):
        strings = all_strings(n)[torch.randperm(2**n, generator=gen)]
        size = batch_size or len(strings)
        out += list(strings.split(size))
    return out


def parity_spec(model: Any = None, seed: int = 0, **train: Any) -> RunSpec:
    """The authors' settings (``parity/main.ipynb``, "Settings parity task with relu") as a
    :class:`~grok_interp.runs.RunSpec`: the RNN preset (or ``model``, e.g. a
    transformer preset), SGD lr 0.02 without momentum or weight decay, batches of 128,
    1,000 epochs, no warm-up; evaluated and snapshotted every 10 epochs (theirs: every
    epoch). ``train`` replaces any TrainConfig field."""
    cfg = dict(epochs=1000, lr=0.02, weight_decay=0.0, sgd=True, batch_size=128,
               warmup=0, eval_every=10, snapshot_every=10)  # fmt: skip
    return RunSpec(task=ParityTask(), model=model or RNNPreset(), seed=seed,
                   train=TrainConfig(**{**cfg, **train}))  # fmt: skip


PARITY_ANALYSES = catalog.section("parity")


@functools.lru_cache(maxsize=16)
def _val(task: ParityTask, seed: int) -> Tensor:
    return eval_strings(task, seed)["val"]


class Parity(StepwiseFamily):
    """Streaming parity on an RNN or a transformer (module docstring). The history:
    ``train_loss`` / ``train_acc`` over all training strings (every prefix, so every
    position); ``test_loss`` the last position's MSE on the validation strings (the
    authors' validation loss), ``test_position_loss`` the MSE over all their positions,
    ``test_acc`` their per-position accuracy and ``test_string_acc`` the fraction right
    at every position; the long lengths are measured by
    :func:`grok_interp.analyses.automaton.length_generalisation` (one forward of 10,000
    steps costs more than an epoch)."""

    kind = "parity"
    task_type = ParityTask
    preset_types = (RNNPreset, ModelPreset)
    learner_types = (HookedRNN,)
    presets = {"rnn": RNNPreset(), **PRESETS}
    analyses = PARITY_ANALYSES
    title = "van Rossem & Saxe 2025"
    what = "streaming parity"
    objective = "mse"  # the last position's MSE against the one-hot parity (the authors')

    def progress(self, run: Run) -> pd.DataFrame:
        """The automaton extracted at each snapshot (leader rule, van Rossem & Saxe Sec. 3):
        its states, whether it is complete, mergers and splits, beside the losses then."""
        return am.automaton_over_training(run)

    def read_task(self, d: dict[str, Any]) -> ParityTask:
        return ParityTask(**{**d, "long_lens": tuple(d["long_lens"])})

    def build(self, preset: Any, task: ParityTask, *, seed: int, device: torch.device) -> Any:
        if isinstance(preset, RNNPreset):
            return build_rnn(preset, seed=seed, device=device)
        return build_model(preset, task, seed=seed, device=device)

    def new_run(self, spec: RunSpec, parent: Run | None = None) -> Run:
        cfg = spec.train
        if spec.init is not None or cfg.fresh_data or cfg.random_labels:
            raise ValueError("streaming parity trains on all its strings: no init, "
                             "fresh_data or random_labels")  # fmt: skip
        return Run(task=spec.task, model=spec.model, train=cfg, seed=spec.seed,
                   train_idx=torch.arange(spec.task.n_train))  # fmt: skip

    def test_idx(self, run: Run) -> Int[Tensor, " n_test"]:
        return torch.arange(run.task.n_val)

    def batches(self, run: Run, epoch: int) -> Iterable[TokenBatch]:
        """Per epoch, the training strings by length in increasing order, shuffled within
        a length, in batches of ``batch_size`` (:func:`length_batches`)."""
        for batch in length_batches(run.task, run.train.batch_size, run.seed, epoch):
            yield batch, parity_targets(batch)

    def loss(self, model: Any, inputs: Int[Tensor, "batch pos"],
             targets: Int[Tensor, "batch pos"]) -> Float[Tensor, ""]:  # fmt: skip
        """The MSE of the last position's output against the one-hot parity (the authors'
        many-to-one loss)."""
        return mse(model(inputs)[:, -1], targets[:, -1])

    def evaluate(self, model: Any, run: Run, epoch: int,
                 device: torch.device) -> dict[str, float]:  # fmt: skip
        task, row = run.task, {}
        longest = all_strings(task.max_len).to(device)
        # every training string is a prefix of a longest one: read it there, once
        nodes = prefix_rows(model(longest).double(), task.max_len)
        row["train_loss"], row["train_acc"] = prefix_fit(nodes, task)
        val = _val(task, run.seed)
        yv = model(val.to(device)).double()
        tv = parity_targets(val).to(device)
        row["test_loss"] = float(mse(yv[:, -1], tv[:, -1]))
        row["test_position_loss"] = float(mse(yv, tv))
        right = yv.argmax(-1) == tv
        row["test_acc"] = float(right.double().mean())
        row["test_string_acc"] = float(right.all(-1).double().mean())
        return row

    @torch.no_grad()
    def report(self, model: Any, task: Any, run: Run | None, name: str,
               options: AnalyzeOptions, assumed: Iterable[str] = ()) -> Report:  # fmt: skip
        """Its automaton by both rules, its length generalisation, and, for a Run with
        snapshots, the states over training and the interaction theory (50 pairs of each
        kind, at most 26 snapshots). The pair analyses do not apply and are not listed."""
        task = task or ParityTask()
        results: dict[str, Result] = {
            "automaton": am.extract_automaton(model, task),
            "automaton_scale_free": am.extract_automaton(model, task, method="scale-free"),
        }
        length = length_generalisation(model, task, seed=0 if run is None else run.seed)
        results["length_generalisation"] = length
        not_run = _over_training(run, results)
        _, outputs = am.prefix_states(model, task.max_len)
        losses = {"train": prefix_fit(outputs[1:], task),
                  f"test (length {task.val_len})": (length.last_mse[0],
                                                    length.position_acc[0])}  # fmt: skip
        return Report(source=name, task=task, results=results, not_run=not_run, losses=losses,
                      setup_differences=(f"streaming parity, {type(model).__name__}",),
                      model=model, assumptions=tuple(assumed), family=self.kind)  # fmt: skip

    def summary(self, report: Report) -> pd.DataFrame:
        """Losses per set of strings, the automaton's states by each rule, and the
        whole-string accuracy at each test length."""
        vals = {f"loss ({s} strings)": sci(v[0]) for s, v in report.losses.items()}
        for res in (report.automaton, report.automaton_scale_free):
            if res is not None:
                vals[f"automaton states, {res.method} rule (minimal)"] = (
                    f"{res.n_states} ({res.n_minimal}"
                    f"{', the parity machine' if res.parity_machine else ''})")  # fmt: skip
        if report.length_generalisation:
            lg = report.length_generalisation
            for n, acc in zip(lg.lengths, lg.string_acc, strict=True):
                vals[f"whole-string accuracy, length {n}"] = pct(acc)
        return pd.DataFrame([{"quantity": k, "ours": v} for k, v in vals.items()])

    def default_spec(self) -> RunSpec:
        return parity_spec()


def _over_training(run: Run | None, results: dict[str, Result]) -> dict[str, str]:
    """The states over training and the interaction terms of a Run with snapshots, into
    ``results``; what could not run, with the reason."""
    not_run: dict[str, str] = {}
    if run is None or len(run.snapshots) < 2:
        for k in ("states_over_training", "interaction"):
            not_run[k] = f"{k.replace('_', ' ')}: needs a Run with snapshots"
        return not_run
    snaps = sorted(run.snapshots)
    steps = snaps[:: max(1, -(-len(snaps) // 26))]
    steps += [] if steps[-1] == snaps[-1] else [snaps[-1]]
    frames = {m: am.automaton_over_training(run, method=m, steps=steps) for m in am.METHODS}
    results["states_over_training"] = am.StatesResult(frames=frames)
    if isinstance(run.model, RNNPreset):
        results["interaction"] = InteractionResult(
            frame=interaction_over_training(run, n_pairs=50, steps=steps))
    else:
        not_run["interaction"] = "interaction: reads an RNN's hidden states"
    return not_run


FAMILY = Parity()
