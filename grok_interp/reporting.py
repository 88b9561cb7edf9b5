"""The Report: every analysis of one checkpoint that applies, as typed Results, and the
reasons for those that do not (:func:`grok_interp.report.analyze` builds it).

It renders in Jupyter as the papers' tables, and saves as Markdown, JSON (the tables'
rows) and one self-contained plotly HTML file (:mod:`grok_interp.page`). Its summary,
header and notes are what its family built (:meth:`grok_interp.families.base.Family.
finish`): the Report holds them and asks no one.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from jaxtyping import Shaped
from safetensors.torch import save_file
from torch import Tensor

from grok_interp.analyses import catalog
from grok_interp.analyses.ablations import AblationsResult
from grok_interp.analyses.algorithm import AlgorithmResult
from grok_interp.analyses.attention import AttentionResult
from grok_interp.analyses.automaton import AutomatonResult, StatesResult
from grok_interp.analyses.circuit_density import CircuitDensityResult
from grok_interp.analyses.common import Result, result_json, sci, to_jsonable
from grok_interp.analyses.curves import CurvesResult
from grok_interp.analyses.efficiency import EfficiencyResult
from grok_interp.analyses.embedding import FourierNormsResult
from grok_interp.analyses.interaction import InteractionResult
from grok_interp.analyses.irreps import IrrepsResult
from grok_interp.analyses.lengths import LengthResult
from grok_interp.analyses.logits import DirectionsResult, LogitFitResult, NeuronLogitMapResult
from grok_interp.analyses.neurons import NeuronsResult
from grok_interp.analyses.representation import RepresentationResult
from grok_interp.analyses.sequence_results import HeadScoresResult, PositionLossResult
from grok_interp.page import page
from grok_interp.runs import usual_mode
from grok_interp.tasks import task_dict

SCHEMA_VERSION = 2
_T = TypeVar("_T", bound=Result)


@dataclass(frozen=True)
class Report:
    """The analyses of one model (module docstring).

    ``results`` maps each analysis that ran to its Result (typed access: ``report.neurons``
    and so on, None when it did not run); ``not_run`` maps each one that did not to the
    reason; ``assumptions`` lists what was assumed about a foreign checkpoint;
    ``losses`` gives (loss, accuracy) per pair set."""

    source: str
    task: Any  # the family's task type
    results: dict[str, Result]
    not_run: dict[str, str]
    losses: dict[str, tuple[float, float]]
    setup_differences: tuple[str, ...]
    model: Any = field(repr=False)  # the family's learner, a HookedRootModule
    assumptions: tuple[str, ...] = ()
    family: str = "modular"  # the registry's kind of the family that built it
    # What the family built (Family.finish): the papers' names, the summary table, its
    # heading and the notes under it; a report not yet finished shows its losses.
    title: str = ""
    summary: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    summary_title: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [k for k in (*self.results, *self.not_run) if k not in catalog.CATALOG]
        if unknown:
            raise KeyError(f"analyses {unknown} are not in the catalog "
                           "(grok_interp.analyses.catalog): declare them there")  # fmt: skip

    def _get(self, name: str, kind: type[_T]) -> _T | None:
        """The Result of the analysis ``name`` (a catalog name: a misspelt one raises),
        None when it did not run."""
        declared = catalog.get(name).result
        assert issubclass(declared, kind), f"{name} returns a {declared.__name__}"
        res = self.results.get(name)
        return res if isinstance(res, kind) else None

    def __getattr__(self, name: str) -> Result | None:
        # an analysis declared in the catalog without a typed property here (a user's)
        if name.startswith("_") or name not in catalog.CATALOG:
            raise AttributeError(f"Report has no attribute {name!r}; its analyses are the "
                                 f"catalog's: {', '.join(catalog.CATALOG)}")  # fmt: skip
        return self._get(name, Result)

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
    def irreps(self) -> IrrepsResult | None:
        """Chughtai et al.'s per-irrep metrics and key irreps (C_p's for Z_p)."""
        return self._get("irreps", IrrepsResult)

    @property
    def over_training(self) -> CurvesResult | None:
        return self._get("over_training", CurvesResult)

    @property
    def algorithm(self) -> AlgorithmResult | None:
        """Zhong et al.'s clock-or-pizza measures and verdict."""
        return self._get("algorithm", AlgorithmResult)

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

    @property
    def head_scores(self) -> HeadScoresResult | None:
        return self._get("head_scores", HeadScoresResult)

    @property
    def position_losses(self) -> PositionLossResult | None:
        return self._get("position_losses", PositionLossResult)

    def table5(self) -> pd.DataFrame:
        """The summary row (Table 5 for the pairs): what the family reports of its runs
        (the losses per set before the family has finished the report)."""
        return self.losses_table() if self.summary is None else self.summary

    def losses_table(self) -> pd.DataFrame:
        """The loss on each set, one row each."""
        return pd.DataFrame([{"quantity": f"loss ({s})", "ours": sci(v[0])}
                             for s, v in self.losses.items()])  # fmt: skip

    def family_title(self) -> str:
        """The papers of the report's family (the header's words)."""
        return self.title or "grok_interp"

    def summary_heading(self) -> str:
        """The summary table's heading: its family's (Table 5 row for the pairs)."""
        return self.summary_title or f"Summary ({self.family_title()})"

    def header(self) -> str:
        return (f"{self.family_title()} analyses of {self.source}: "
                f"{self.task.describe()}")  # fmt: skip

    def __repr__(self) -> str:
        ran = ", ".join(self.results) or "none"
        return (
            f"Report({self.source!r}, {self.task.describe()}; ran: {ran}; "
            f"not run: {', '.join(self.not_run) or 'none'})"
        )

    def summary_notes(self) -> list[str]:
        """Assumptions about the model, and why a paper column is or is not shown."""
        return list(self.notes) or [f"Assumed: {a}." for a in self.assumptions]

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.summary_notes())
        parts = [
            f"<h3>{html.escape(self.header())}</h3>",
            f"<h4>{html.escape(self.summary_heading())}</h4>",
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
            f"### {self.summary_heading()}\n",
            self.table5().to_markdown(index=False) + "\n",
            "".join(f"- {n}\n" for n in self.summary_notes()),
        ]
        parts += [r.to_markdown() for r in self.results.values()]
        if self.not_run:
            parts.append(
                "### Analyses not run\n" + "".join(f"\n- {m}" for m in self.not_run.values())
            )
        return "\n".join(parts) + "\n"

    def to_json(self, tensors: dict[str, Shaped[Tensor, "..."]] | None = None) -> dict[str, Any]:
        """The report as typed JSON (schema ``SCHEMA_VERSION``): numbers, lists and nulls
        under each Result's field names (``results.NAME.values``), with its notes. Tensors
        go into ``tensors`` (``save`` writes them to ``tensors.safetensors``) and the JSON
        names them; without ``tensors`` they are inlined as lists."""
        out = {
            "schema": "grok_interp.report",
            "schema_version": SCHEMA_VERSION,
            "source": self.source,
            "task": task_dict(self.task),
            "setup_differences": list(self.setup_differences),
            "assumptions": list(self.assumptions),
            "losses": {s: {"loss": v[0], "accuracy": v[1]} for s, v in self.losses.items()},
            "results": {k: result_json(r, k, tensors) for k, r in self.results.items()},
            "not_run": self.not_run,
        }
        return to_jsonable(out)

    def figures(self) -> list[tuple[str, Any]]:
        """(analysis name, plotly figure) for every Result that draws one; a Result with
        several (``figures()``, the over-training one) gives each as ``name-anchor``."""
        figs = []
        for name, r in self.results.items():
            many = getattr(r, "figures", None)
            if callable(many):
                figs += [(f"{name}-{anchor}", fig) for anchor, _, fig in many()]
                continue
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
