"""``analyze()``: every Nanda et al. (2023) analysis of one checkpoint, as a Report.

The Report renders in Jupyter as the paper's tables, and saves as Markdown, JSON (the
tables' rows) and one self-contained plotly HTML file. The paper's mainline values stand
beside ours only for a model of the paper's setup, and a loss beside a loss on the same
pair set (test, train or all pairs; see :mod:`grok_interp.analyses.common`). An analysis
that does not apply to the model (LayerNorm, no MLP, another task, no sparse Fourier
structure) is listed with its reason, and so is each analysis that needed it; the others
still run. What was assumed about a foreign checkpoint is stated.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pandas as pd
import torch
from safetensors.torch import save_file
from torch import Tensor

from grok_interp import tl
from grok_interp.analyses.ablations import AblationsResult, Restricted, ablations
from grok_interp.analyses.attention import AttentionResult, attention_heads
from grok_interp.analyses.automaton import (
    AutomatonResult,
    InteractionResult,
    LengthResult,
    StatesResult,
)
from grok_interp.analyses.circuit_density import CircuitDensityResult, circuit_density
from grok_interp.analyses.common import (
    AnalysisError,
    ModelData,
    Result,
    check_model,
    gather,
    losses_by_set,
    pair_sets,
    paper_setup_differences,
    pct,
    result_json,
    sci,
    setup_note,
    to_jsonable,
)
from grok_interp.analyses.efficiency import EfficiencyResult, efficiency
from grok_interp.analyses.embedding import FourierNormsResult, embedding_fourier
from grok_interp.analyses.logits import (
    DEFAULT_THRESHOLD,
    DirectionsResult,
    LogitFitResult,
    NeuronLogitMapResult,
    logit_fit,
    neuron_logit_map,
    read_off_directions,
)
from grok_interp.analyses.neurons import NeuronsResult, neuron_fits
from grok_interp.analyses.representation import (
    RepresentationResult,
    representation,
    toy_representation,
)
from grok_interp.config import RNNPreset, ToyPreset
from grok_interp.foreign import model_from_foreign
from grok_interp.page import page
from grok_interp.parity import HookedRNN, ParityTask
from grok_interp.runs import (
    CheckpointError,
    Run,
    is_run_dict,
    model_from_run,
    read_checkpoint,
    run_from_checkpoint,
    usual_mode,
)
from grok_interp.snapshots import SplitLike, train_indices
from grok_interp.tasks import Task

# Table 5's mainline row (Appendix C.2), with the pair set each loss is read on.
PAPER_TABLE5: dict[str, tuple[str, str | None]] = {
    "loss (test pairs)": ("2.41e-7", "test"),
    "key frequencies": ("14, 35, 41, 42, 52", None),
    "logit FVE": ("95%", None),
    "mean FVE of u_k, v_k projections": ("> 90%", None),
}
PAIR_ANALYSES = (
    "embedding",
    "neuron_logit_map",
    "directions",
    "logit_fit",
    "neurons",
    "attention",
    "ablations",
    "efficiency",
    "representation",
    "circuit_density",
)
# streaming parity's (van Rossem & Saxe 2025): a report holds one family or the other
PARITY_ANALYSES = (
    "automaton",
    "automaton_scale_free",
    "length_generalisation",
    "states_over_training",
    "interaction",
)
ANALYSES = PAIR_ANALYSES + PARITY_ANALYSES


SCHEMA_VERSION = 2
_T = TypeVar("_T", bound=Result)


@dataclass(frozen=True)
class Report:
    """The tables of Nanda et al. 2023 for one model (module docstring).

    ``results`` maps each analysis that ran to its Result (typed access: ``report.neurons``
    and so on, None when it did not run); ``not_run`` maps each one that did not to the
    reason; ``assumptions`` lists what was assumed about a foreign checkpoint;
    ``losses`` gives (loss, accuracy) per pair set."""

    source: str
    task: Task | ParityTask
    results: dict[str, Result]
    not_run: dict[str, str]
    losses: dict[str, tuple[float, float]]
    setup_differences: tuple[str, ...]
    model: Any = field(repr=False)  # a HookedTransformer, or a toy model (grok_interp.toy)
    assumptions: tuple[str, ...] = ()

    def _get(self, name: str, kind: type[_T]) -> _T | None:
        res = self.results.get(name)
        return res if isinstance(res, kind) else None

    @property
    def embedding(self) -> FourierNormsResult | None:
        return self._get("embedding", FourierNormsResult)

    @property
    def neuron_logit_map(self) -> NeuronLogitMapResult | None:
        return self._get("neuron_logit_map", NeuronLogitMapResult)

    @property
    def directions(self) -> DirectionsResult | None:
        return self._get("directions", DirectionsResult)

    @property
    def logit_fit(self) -> LogitFitResult | None:
        return self._get("logit_fit", LogitFitResult)

    @property
    def neurons(self) -> NeuronsResult | None:
        return self._get("neurons", NeuronsResult)

    @property
    def attention(self) -> AttentionResult | None:
        return self._get("attention", AttentionResult)

    @property
    def ablations(self) -> AblationsResult | None:
        return self._get("ablations", AblationsResult)

    @property
    def efficiency(self) -> EfficiencyResult | None:
        return self._get("efficiency", EfficiencyResult)

    @property
    def representation(self) -> RepresentationResult | None:
        return self._get("representation", RepresentationResult)

    @property
    def circuit_density(self) -> CircuitDensityResult | None:
        return self._get("circuit_density", CircuitDensityResult)

    @property
    def automaton(self) -> AutomatonResult | None:
        return self._get("automaton", AutomatonResult)

    @property
    def automaton_scale_free(self) -> AutomatonResult | None:
        return self._get("automaton_scale_free", AutomatonResult)

    @property
    def length_generalisation(self) -> LengthResult | None:
        return self._get("length_generalisation", LengthResult)

    @property
    def states_over_training(self) -> StatesResult | None:
        return self._get("states_over_training", StatesResult)

    @property
    def interaction(self) -> InteractionResult | None:
        return self._get("interaction", InteractionResult)

    def table5(self) -> pd.DataFrame:
        """The Table 5 row: losses per pair set, Gini coefficients, key frequencies, FVEs."""
        unit = "pairs" if isinstance(self.task, Task) else "strings"
        vals: dict[str, str] = {f"loss ({s} {unit})": sci(v[0]) for s, v in self.losses.items()}
        if self.embedding:
            vals["Gini(W_E)"] = f"{self.embedding.gini:.3f}"
        if self.neuron_logit_map:
            vals["Gini(W_L)"] = f"{self.neuron_logit_map.fourier.gini:.3f}"
            vals["key frequencies"] = self.neuron_logit_map.table().iloc[0]["ours"]
        if self.logit_fit:
            vals["logit FVE"] = pct(self.logit_fit.fve)
        if self.directions:
            vals["mean FVE of u_k, v_k projections"] = pct(self.directions.mean_fve)
        for res in (self.automaton, self.automaton_scale_free):
            if res is not None:
                vals[f"automaton states, {res.method} rule (minimal)"] = (
                    f"{res.n_states} ({res.n_minimal}"
                    f"{', the parity machine' if res.parity_machine else ''})")  # fmt: skip
        if self.length_generalisation:
            lg = self.length_generalisation
            for n, acc in zip(lg.lengths, lg.string_acc, strict=True):
                vals[f"whole-string accuracy, length {n}"] = pct(acc)
        rows = [{"quantity": k, "ours": v} for k, v in vals.items()]
        if not self.setup_differences and isinstance(self.task, Task):
            for row in rows:
                paper = PAPER_TABLE5.get(row["quantity"])
                row["paper (mainline)"] = "-" if paper is None else paper[0]
        return pd.DataFrame(rows)

    def header(self) -> str:
        papers = "Nanda et al. 2023" if isinstance(self.task, Task) else "van Rossem & Saxe 2025"
        return f"{papers} analyses of {self.source}: {self.task.describe()}"

    def __repr__(self) -> str:
        ran = ", ".join(self.results) or "none"
        return (
            f"Report({self.source!r}, {self.task.describe()}; ran: {ran}; "
            f"not run: {', '.join(self.not_run) or 'none'})"
        )

    def summary_notes(self) -> list[str]:
        """Assumptions about the model, and why a paper column is or is not shown."""
        notes = [f"Assumed: {a}." for a in self.assumptions]
        return notes + (setup_note(self.setup_differences) if isinstance(self.task, Task) else [])

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.summary_notes())
        parts = [
            f"<h3>{html.escape(self.header())}</h3>",
            "<h4>Summary (Table 5 row)</h4>",
            self.table5().to_html(index=False),
            f"<ul>{notes}</ul>",
        ]
        parts += [r._repr_html_() for r in self.results.values()]
        if self.not_run:
            items = "".join(f"<li>{html.escape(m)}</li>" for m in self.not_run.values())
            parts.append(f"<h4>Analyses not run</h4><ul>{items}</ul>")
        return "\n".join(parts)

    def to_markdown(self) -> str:
        parts = [
            f"# {self.header()}\n",
            "### Summary (Table 5 row)\n",
            self.table5().to_markdown(index=False) + "\n",
            "".join(f"- {n}\n" for n in self.summary_notes()),
        ]
        parts += [r.to_markdown() for r in self.results.values()]
        if self.not_run:
            parts.append(
                "### Analyses not run\n" + "".join(f"\n- {m}" for m in self.not_run.values())
            )
        return "\n".join(parts) + "\n"

    def to_json(self, tensors: dict[str, Tensor] | None = None) -> dict[str, Any]:
        """The report as typed JSON (schema ``SCHEMA_VERSION``): numbers, lists and nulls
        under each Result's field names (``results.NAME.values``), with its notes. Tensors
        go into ``tensors`` (``save`` writes them to ``tensors.safetensors``) and the JSON
        names them; without ``tensors`` they are inlined as lists."""
        out = {
            "schema": "grok_interp.report",
            "schema_version": SCHEMA_VERSION,
            "source": self.source,
            "task": dataclasses.asdict(self.task),
            "setup_differences": list(self.setup_differences),
            "assumptions": list(self.assumptions),
            "losses": {s: {"loss": v[0], "accuracy": v[1]} for s, v in self.losses.items()},
            "results": {k: result_json(r, k, tensors) for k, r in self.results.items()},
            "not_run": self.not_run,
        }
        return to_jsonable(out)

    def figures(self) -> list[tuple[str, Any]]:
        """(analysis name, plotly figure) for every Result that draws one."""
        figs = []
        for name, r in self.results.items():
            try:
                figs.append((name, r.figure()))
            except NotImplementedError:
                continue
        return figs

    def save(
        self,
        out: str | Path,
        figures: bool = True,
        overwrite: bool = False,
        pair: tuple[int, int] | None = None,
    ) -> list[Path]:
        """Write report.md, report.json, tensors.safetensors and (with ``figures``)
        index.html (:mod:`grok_interp.page`; ``pair`` is the attention view's input) into
        the folder ``out``; a folder holding files is refused unless ``overwrite``."""
        out = Path(out)
        check_folder(out, overwrite)
        out.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, Tensor] = {}
        doc = self.to_json(tensors)
        doc["tensors_file"] = "tensors.safetensors"
        paths = [out / "report.md", out / "report.json", out / "tensors.safetensors"]
        paths[0].write_text(self.to_markdown())
        paths[1].write_text(json.dumps(doc, indent=1) + "\n")
        save_file(tensors, str(paths[2]))
        usual_mode(paths[2])  # safetensors writes 0600
        if figures:
            paths.append(out / "index.html")
            paths[-1].write_text(page(self, pair))
        return paths


def check_folder(out: Path, overwrite: bool) -> None:
    """A report folder may be new or empty; one holding files only with ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file; give a folder for the report")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out} is a folder with files in it; pass overwrite=True to replace its report "
            "files, or give another folder"
        )


def _task_from_model(model: tl.Model) -> tuple[Task, list[str]]:
    cfg = model.cfg
    fmt = "a b =" if cfg.n_ctx == 3 else "a o b ="
    task = Task(op="add", p=cfg.d_vocab_out, token_format=fmt)  # type: ignore[arg-type]
    return task, [f"task {task.describe()} assumed from the shapes (d_vocab, n_ctx); give the task"]


def _resolve(
    source: str | Path | Run | tl.Model,
    task: Task | None,
    step: int | None,
    act_fn: str | None,
    device: str | torch.device = "cpu",
) -> tuple[Any, Task, Run | None, str, list[str]]:
    """The model, task, Run (if any), name and assumptions behind ``source``, reading a
    file once."""
    if tl.is_transformer(source):
        found, assumed = _task_from_model(source) if task is None else (task, [])
        return source, found, None, f"a {type(source).__name__}", assumed
    run, name = (source, "a Run") if isinstance(source, Run) else (None, str(source))
    if run is None:
        obj = read_checkpoint(source)  # type: ignore[arg-type]
        if not is_run_dict(obj):
            if step is not None:
                raise CheckpointError(f"{source} is a foreign checkpoint: it has no snapshots")
            model, found, assumed = model_from_foreign(
                obj, name, task=task, act_fn=act_fn, device=device
            )
            return model, found, None, name, assumed
        run = run_from_checkpoint(obj, name)
    if isinstance(run.model, ToyPreset):
        from grok_interp.toy import toy_model

        return toy_model(run, step), run.pairs_task, run, name, []
    if isinstance(run.task, ParityTask):
        from grok_interp.analyses.automaton import snapshot_model

        # the pair task is never read: analyze() sends parity runs to _parity_report
        return snapshot_model(run, step), Task(), run, name, []
    return model_from_run(run, step, device), task or run.pairs_task, run, name, []


def analyze(
    source: str | Path | Run | tl.Model | HookedRNN,
    task: Task | None = None,
    *,
    step: int | None = None,
    key_freqs: list[int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    basis: Literal["fourier", "monomials"] = "fourier",
    restricted: Restricted = "authors",
    act_fn: str | None = None,
    device: str | torch.device = "cpu",
    split: SplitLike | None = None,
) -> Report:
    """Run every analysis of Nanda et al. 2023 on a checkpoint, Run or transformer (a
    HookedTransformer, or a TransformerBridge of either TransformerLens major);
    on a streaming-parity Run or a HookedRNN, those of van Rossem & Saxe 2025 instead.

    ``task`` defaults to the Run's, or ``add`` with the layout the shapes imply (an
    assumption the report states; so is ``act_fn``, ReLU unless given, for foreign
    checkpoints). ``split`` gives the training pairs of a model trained elsewhere (indices
    ``a*p + b``, a mask over the p^2 pairs, or a file holding either:
    :func:`grok_interp.snapshots.train_indices`), or replaces a Run's, so losses, o_mem and
    predicted accuracy are reported per pair set. ``key_freqs`` defaults to those found in
    W_L (``threshold``, Appendix C.2); ``restricted`` picks the restricted-loss definition (see
    :mod:`grok_interp.analyses.ablations`). The forwards run on ``device`` (a
    HookedTransformer stays where it is); the fits and tables are computed on the CPU.

    An analysis that does not apply to the model (an :class:`AnalysisError`: LayerNorm,
    no MLP, another task, no sparse Fourier structure) is listed in ``not_run`` with its
    reason; a model that does not fit the task raises, and so does any other error.
    """
    if isinstance(source, HookedRNN):
        return _parity_report(source, ParityTask(), None, "a HookedRNN")
    model, task, run, name, assumed = _resolve(source, task, step, act_fn, device)
    split_idx = None
    if split is not None:
        if run is not None and isinstance(run.task, ParityTask):
            raise ValueError("split: streaming parity has no pairs to split")
        split_idx = train_indices(split, task)
        run = None if run is None else dataclasses.replace(run, train_idx=split_idx)
    if run is not None and isinstance(run.task, ParityTask):
        return _parity_report(model, run.task, run, name)
    if not tl.is_transformer(model):
        return _toy_report(model, run, name)
    check_model(model, task)
    results: dict[str, Result] = {}
    not_run: dict[str, str] = {}

    def attempt(key: str, fn: Callable[[], Result], needs: str | None = None) -> None:
        if needs is not None:
            not_run[key] = f"{key.replace('_', ' ')}: {needs}"
            return
        try:
            results[key] = fn()
        except AnalysisError as e:
            msg = str(e)
            not_run[key] = msg if msg.startswith(key.replace("_", " ")) else f"{key}: {msg}"

    with torch.no_grad():
        attempt("embedding", lambda: embedding_fourier(model, task))
        train_idx = split_idx if run is None else run.train_idx
        try:
            data: ModelData | None = gather(model, task, train_idx)
        except AnalysisError as e:
            data = None
            for key in PAIR_ANALYSES[1:]:
                attempt(key, lambda: results["embedding"], needs=str(e))
        losses: dict[str, tuple[float, float]] = {}
        if data is not None:
            _run_all(model, task, data, key_freqs, threshold, basis, restricted, attempt, results)
            losses = losses_by_set(data.logits, data.labels, data.sets)
    return Report(
        source=name,
        task=task,
        results=results,
        not_run={k: not_run[k] for k in ANALYSES if k in not_run},
        losses=losses,
        setup_differences=tuple(paper_setup_differences(model, task)),
        assumptions=tuple(assumed),
        model=model,
    )


@torch.no_grad()
def _parity_report(model: Any, task: ParityTask, run: Run | None, name: str) -> Report:
    """The report of a streaming-parity model (van Rossem & Saxe 2025): its automaton by
    both rules, its length generalisation, and, for a Run with snapshots, the states over
    training and the interaction theory (50 pairs of each kind, at most 26 snapshots).
    The pair analyses do not apply and are not listed."""
    from grok_interp.analyses import automaton as am
    from grok_interp.parity import prefix_fit

    results: dict[str, Result] = {
        "automaton": am.extract_automaton(model, task),
        "automaton_scale_free": am.extract_automaton(model, task, method="consistent"),
    }
    seed = 0 if run is None else run.seed
    length = am.length_generalisation(model, task, seed=seed)
    results["length_generalisation"] = length
    not_run: dict[str, str] = {}
    if run is not None and len(run.snapshots) >= 2:
        snaps = sorted(run.snapshots)
        steps = snaps[:: max(1, -(-len(snaps) // 26))]
        steps += [] if steps[-1] == snaps[-1] else [snaps[-1]]
        frames = {m: am.automaton_over_training(run, method=m, steps=steps) for m in am.METHODS}
        results["states_over_training"] = am.StatesResult(frames=frames)
        if isinstance(run.model, RNNPreset):
            results["interaction"] = am.InteractionResult(
                frame=am.interaction_over_training(run, n_pairs=50, steps=steps))
        else:
            not_run["interaction"] = "interaction: reads an RNN's hidden states"
    else:
        for k in ("states_over_training", "interaction"):
            not_run[k] = f"{k.replace('_', ' ')}: needs a Run with snapshots"
    _, outputs = am.prefix_states(model, task.max_len)
    losses = {"train": prefix_fit(outputs[1:], task),
              f"test (length {task.val_len})": (length.last_mse[0],
                                                length.position_acc[0])}  # fmt: skip
    return Report(source=name, task=task, results=results, not_run=not_run, losses=losses,
                  setup_differences=(f"streaming parity, {type(model).__name__}",),
                  model=model)  # fmt: skip


@torch.no_grad()
def _toy_report(model: Any, run: Run | None, name: str) -> Report:
    """The report of Liu et al.'s toy model: its representation's quality; every
    transformer analysis is listed as not applying."""
    from grok_interp.toy import loss_of_scores

    task = model.task
    sets = pair_sets(task, None if run is None else run.train_idx)
    s, labels = model(task.pairs()), task.labels()
    losses = {k: (float(loss_of_scores(s[i], labels[i], model.spec).mean()),
                  float((s[i].argmax(-1) == labels[i]).double().mean()))
              for k, i in sets.items()}  # fmt: skip
    why = "the toy model (Liu et al. 2022) has no attention, MLP neurons or unembedding"
    return Report(
        source=name,
        task=task,
        results={"representation": toy_representation(
            model, None if run is None else run.train_idx)},  # fmt: skip
        not_run={k: f"{k.replace('_', ' ')}: {why}"
                 for k in PAIR_ANALYSES if k != "representation"},  # fmt: skip
        losses=losses,
        setup_differences=(f"Liu et al.'s toy model Dec(E_i + E_j), {model.spec}",),
        model=model,
    )


def _run_all(
    model: tl.Model,
    task: Task,
    data: ModelData,
    key_freqs: list[int] | None,
    threshold: float,
    basis: Literal["fourier", "monomials"],
    restricted: Restricted,
    attempt: Callable[..., None],
    results: dict[str, Result],
) -> None:
    attempt(
        "neuron_logit_map",
        lambda: neuron_logit_map(model, task, key_freqs=key_freqs, threshold=threshold, data=data),
    )
    wl = results.get("neuron_logit_map")
    keys = key_freqs or (list(wl.key_freqs) if isinstance(wl, NeuronLogitMapResult) else [])
    why = None if keys else _no_keys_reason(wl)
    attempt("directions", lambda: read_off_directions(model, task, key_freqs=keys, data=data), why)
    attempt("logit_fit", lambda: logit_fit(model, task, key_freqs=keys, data=data), why)
    attempt(
        "neurons",
        lambda: neuron_fits(model, task, key_freqs=keys, basis=basis, data=data),
        why,
    )
    attempt("attention", lambda: attention_heads(model, task, data=data))
    attempt("efficiency", lambda: efficiency(model, task, data=data))
    attempt("representation", lambda: representation(model, task, data=data,
                                                      key_freqs=keys or None))
    attempt("circuit_density", lambda: circuit_density(model, task, data.sets.get("train")))
    neurons = results.get("neurons")
    attempt(
        "ablations",
        lambda: ablations(
            model,
            task,
            key_freqs=keys,
            data=data,
            neurons=neurons,  # type: ignore[arg-type]
            restricted=restricted,
        ),
        why
        or (
            None
            if isinstance(neurons, NeuronsResult)
            else "needs the neuron fits, which did not run"
        ),
    )


def _no_keys_reason(wl: Result | None) -> str:
    if isinstance(wl, NeuronLogitMapResult):
        n = len(wl.norms) - 1
        return (
            f"needs key frequencies, and W_L has no sparse Fourier structure "
            f"({wl.n_above_threshold} of {n} frequencies cross the rule; Gini "
            f"{wl.fourier.gini:.3f}); give key_freqs to run it anyway"
        )
    return "needs key frequencies from the neuron-logit map, which did not run; give key_freqs"
