"""``analyze()``: every Nanda et al. (2023) analysis of one checkpoint, as a Report.

The Report renders in Jupyter as the paper's tables with the paper's mainline values
beside ours, and saves as Markdown, JSON (the tables' rows) and one self-contained plotly
HTML file. An analysis that does not apply to the model (LayerNorm, another task) is
listed with its reason; the others still run.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch
from transformer_lens import HookedTransformer

from grok_interp.analyses.ablations import ablations
from grok_interp.analyses.attention import attention_heads
from grok_interp.analyses.common import ModelData, Result, gather, loss_acc, to_jsonable
from grok_interp.analyses.embedding import embedding_fourier
from grok_interp.analyses.logits import (
    DEFAULT_THRESHOLD,
    logit_fit,
    neuron_logit_map,
    read_off_directions,
)
from grok_interp.analyses.neurons import NeuronsResult, neuron_fits
from grok_interp.foreign import model_from_foreign
from grok_interp.runs import (
    CheckpointError,
    Run,
    is_run_dict,
    model_from_run,
    read_checkpoint,
    run_from_checkpoint,
)
from grok_interp.tasks import Task

PAPER_TABLE5 = {
    "test loss": "2.41e-7",
    "Gini(W_E)": "-",
    "Gini(W_L)": "-",
    "key frequencies": "14, 35, 41, 42, 52",
    "logit FVE": "95%",
    "mean FVE of u_k, v_k projections": "> 90%",
}


@dataclass(frozen=True)
class Report:
    """The tables of Nanda et al. 2023 for one model (module docstring)."""

    source: str
    task: Task
    results: dict[str, Result]
    errors: dict[str, str]
    test_loss: float | None
    loss_label: str
    model: HookedTransformer = field(repr=False)

    def table5(self) -> pd.DataFrame:
        """The Table 5 row: test loss, Gini coefficients, key frequencies, FVEs."""
        r = self.results
        vals: dict[str, str] = {
            "test loss": f"{self.test_loss:.3g} ({self.loss_label})"
            if self.test_loss is not None
            else "-",
        }
        if "embedding" in r:
            vals["Gini(W_E)"] = f"{r['embedding'].gini:.3f}"  # type: ignore[attr-defined]
        if "neuron_logit_map" in r:
            wl = r["neuron_logit_map"]
            vals["Gini(W_L)"] = f"{wl.fourier.gini:.3f}"  # type: ignore[attr-defined]
            vals["key frequencies"] = ", ".join(map(str, wl.key_freqs))  # type: ignore[attr-defined]
        if "logit_fit" in r:
            vals["logit FVE"] = f"{r['logit_fit'].fve:.2%}"  # type: ignore[attr-defined]
        if "directions" in r:
            vals["mean FVE of u_k, v_k projections"] = f"{r['directions'].mean_fve:.2%}"  # type: ignore[attr-defined]
        return pd.DataFrame(
            [
                {"quantity": k, "ours": v, "paper (mainline)": PAPER_TABLE5.get(k, "-")}
                for k, v in vals.items()
            ]
        )

    def header(self) -> str:
        return f"Nanda et al. 2023 analyses of {self.source}: {self.task.describe()}"

    def _repr_html_(self) -> str:
        parts = [
            f"<h3>{html.escape(self.header())}</h3>",
            "<h4>Summary (Table 5 row)</h4>",
            self.table5().to_html(index=False),
        ]
        parts += [r._repr_html_() for r in self.results.values()]
        if self.errors:
            items = "".join(f"<li>{html.escape(m)}</li>" for m in self.errors.values())
            parts.append(f"<h4>Analyses not run</h4><ul>{items}</ul>")
        return "\n".join(parts)

    def to_markdown(self) -> str:
        parts = [
            f"# {self.header()}\n",
            "### Summary (Table 5 row)\n",
            self.table5().to_markdown(index=False) + "\n",
        ]
        parts += [r.to_markdown() for r in self.results.values()]
        if self.errors:
            parts.append(
                "### Analyses not run\n" + "".join(f"\n- {m}" for m in self.errors.values())
            )
        return "\n".join(parts) + "\n"

    def to_json(self) -> dict[str, Any]:
        return to_jsonable(
            {
                "source": self.source,
                "task": self.task.__dict__,
                "table5": self.table5().to_dict(orient="records"),
                "results": {
                    k: r.table().to_dict(orient="records") for k, r in self.results.items()
                },
                "errors": self.errors,
            }
        )

    def figures(self) -> list[Any]:
        figs = []
        for r in self.results.values():
            try:
                figs.append(r.figure())
            except NotImplementedError:
                continue
        return figs

    def save(self, out: str | Path, figures: bool = True) -> list[Path]:
        """Write report.md, report.json and (with ``figures``) figures.html into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(self.to_markdown())
        (out / "report.json").write_text(json.dumps(self.to_json(), indent=1) + "\n")
        if not figures:
            return [out / "report.md", out / "report.json"]
        figs = self.figures()
        body = "".join(
            f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs)
        )
        (out / "figures.html").write_text(
            f"<html><body><h2>{html.escape(self.header())}</h2>{body}</body></html>"
        )
        return [out / "report.md", out / "report.json", out / "figures.html"]


def _task_from_model(model: HookedTransformer) -> Task:
    cfg = model.cfg
    fmt = "a b =" if cfg.n_ctx == 3 else "a o b ="
    return Task(op="add", p=cfg.d_vocab_out, token_format=fmt)  # type: ignore[arg-type]


def _resolve(
    source: str | Path | Run | HookedTransformer,
    task: Task | None,
    step: int | None,
    device: str | torch.device = "cpu",
) -> tuple[HookedTransformer, Task, Run | None, str]:
    """The model, task and Run (if any) behind ``source``, reading a file once."""
    if isinstance(source, HookedTransformer):
        return source, task or _task_from_model(source), None, "a HookedTransformer"
    run, name = (source, "a Run") if isinstance(source, Run) else (None, str(source))
    if run is None:
        obj = read_checkpoint(source)  # type: ignore[arg-type]
        if not is_run_dict(obj):
            if step is not None:
                raise CheckpointError(f"{source} is a foreign checkpoint: it has no snapshots")
            model, found = model_from_foreign(obj, name, task=task, device=device)
            return model, task or found, None, name
        run = run_from_checkpoint(obj, name)
    return model_from_run(run, step, device), task or run.task, run, name


def analyze(
    source: str | Path | Run | HookedTransformer,
    task: Task | None = None,
    *,
    step: int | None = None,
    key_freqs: list[int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    basis: Literal["fourier", "monomials"] = "fourier",
    device: str | torch.device = "cpu",
) -> Report:
    """Run every analysis of Nanda et al. 2023 on a checkpoint, Run or HookedTransformer.

    ``task`` defaults to the Run's, or ``add`` with the layout the shapes imply;
    ``key_freqs`` defaults to those found in W_L (``threshold``, Appendix C.2).
    The forwards run on ``device`` (a HookedTransformer stays where it is); the fits
    and tables are computed on the CPU from the activations.
    """
    model, task, run, name = _resolve(source, task, step, device)
    results: dict[str, Result] = {}
    errors: dict[str, str] = {}

    def attempt(key: str, fn: Callable[[], Result]) -> None:
        try:
            results[key] = fn()
        except Exception as e:  # one analysis failing must not hide the others
            msg = str(e) if type(e).__name__ == "AnalysisError" else f"{type(e).__name__}: {e}"
            errors[key] = msg if msg.startswith(key.replace("_", " ")) else f"{key}: {msg}"

    with torch.no_grad():
        attempt("embedding", lambda: embedding_fourier(model, task))
        try:
            data: ModelData | None = gather(model, task)
        except Exception as e:
            data, errors["activations"] = None, f"activations: {e}"
        if data is not None:
            _run_all(model, task, data, key_freqs, threshold, basis, attempt, results)
            loss, label = _test_loss(data, run)
        else:
            loss, label = None, ""
    return Report(
        source=name,
        task=task,
        results=results,
        errors=errors,
        test_loss=loss,
        loss_label=label,
        model=model,
    )


def _run_all(
    model: HookedTransformer,
    task: Task,
    data: ModelData,
    key_freqs: list[int] | None,
    threshold: float,
    basis: Literal["fourier", "monomials"],
    attempt: Callable[[str, Callable[[], Result]], None],
    results: dict[str, Result],
) -> None:
    attempt(
        "neuron_logit_map",
        lambda: neuron_logit_map(model, task, key_freqs=key_freqs, threshold=threshold, data=data),
    )
    if "neuron_logit_map" not in results and not key_freqs:
        return
    keys = key_freqs or list(results["neuron_logit_map"].key_freqs)  # type: ignore[attr-defined]
    attempt("directions", lambda: read_off_directions(model, task, key_freqs=keys, data=data))
    attempt("logit_fit", lambda: logit_fit(model, task, key_freqs=keys, data=data))
    attempt("neurons", lambda: neuron_fits(model, task, key_freqs=keys, basis=basis, data=data))
    attempt("attention", lambda: attention_heads(model, task, data=data))
    neurons = results.get("neurons")
    if isinstance(neurons, NeuronsResult):
        attempt(
            "ablations",
            lambda: ablations(model, task, key_freqs=keys, data=data, neurons=neurons),
        )


def _test_loss(data: ModelData, run: Run | None) -> tuple[float, str]:
    if run is None:
        return loss_acc(data.logits, data.labels)[0], "all p^2 pairs"
    idx = run.test_idx
    return loss_acc(data.logits[idx], data.labels[idx])[0], "test pairs of the run"
