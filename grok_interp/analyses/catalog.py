"""The analysis catalog: every analysis declared once (docs/DESIGN.md, "Layers").

Each :class:`Analysis` gives its name (the Report's key and accessor, the JSON key, the
docs' word), its Result type, what it needs of the task and of the learner (Protocols of
:mod:`grok_interp.capabilities`), the section of the report it belongs to, and, for the
analyses a report runs one after another on one gathered forward (the pair analyses),
how to run it from a :class:`Context`. The families' lists of analyses, the Report's
accessors, the guards and the pair report derive from this table, and
``tests/test_catalog.py`` fails when any of them disagrees with it.

Adding an analysis to the pair report is one declaration (:func:`register`) plus its
function; ``analyze()`` then runs it on every model of pairs and lists it, with its
reason, where it does not apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grok_interp.analyses.ablations import AblationsResult, ablations
from grok_interp.analyses.algorithm import AlgorithmResult, algorithm
from grok_interp.analyses.attention import AttentionResult, attention_heads
from grok_interp.analyses.automaton import AutomatonResult, StatesResult
from grok_interp.analyses.circuit_density import CircuitDensityResult, circuit_density
from grok_interp.analyses.common import AnalysisError, ModelData, Result, fourier_reason
from grok_interp.analyses.curves import CurvesResult
from grok_interp.analyses.efficiency import EfficiencyResult, efficiency
from grok_interp.analyses.embedding import FourierNormsResult, embedding_fourier
from grok_interp.analyses.interaction import InteractionResult
from grok_interp.analyses.irreps import IrrepsResult, task_irreps
from grok_interp.analyses.lengths import LengthResult
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
from grok_interp.analyses.representation import RepresentationResult, representation
from grok_interp.analyses.sequence_results import HeadScoresResult, PositionLossResult
from grok_interp.capabilities import (
    Embeds,
    OnPairs,
    Recurrent,
    StreamingStrings,
    TokenSequences,
    Transformer,
)


@dataclass(frozen=True)
class Context:
    """What a pair analysis runs on: the model, its task, the one gathered forward
    (:func:`grok_interp.analyses.common.gather`; None when it failed, so only what needs
    no forward runs), the report's options (``key_freqs``, ``threshold``, ``basis``,
    ``restricted``) and the Results computed before it."""

    model: Any
    task: Any
    data: ModelData | None
    options: Any
    results: dict[str, Result] = field(default_factory=dict)
    train_idx: Any = None  # the training pairs, where known

    @property
    def gathered(self) -> ModelData:
        """The gathered forward, which every pair analysis but the embedding's reads."""
        if self.data is None:
            raise AnalysisError("needs the forward over every pair, which did not run")
        return self.data

    @property
    def keys(self) -> list[int]:
        """The key frequencies: given, or those the neuron-logit map found."""
        wl = self.results.get("neuron_logit_map")
        found = list(wl.key_freqs) if isinstance(wl, NeuronLogitMapResult) else []
        return list(self.options.key_freqs or found)

    @property
    def threshold(self) -> float:
        return float(self.options.threshold or DEFAULT_THRESHOLD)


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """One analysis (module docstring). ``task`` / ``learner``: the capabilities it needs
    (any one of ``learner``); ``section``: the report section that runs it (``"pairs"``
    for the analyses of one gathered forward of a model of pairs); ``run``: how that
    report runs it; ``ready``: the reason it cannot run yet in a context (None: it can);
    ``fourier``: it reads the Fourier basis of Z_p, so a task over another group is
    refused with the reason; ``forward``: it reads the gathered forward (those that do not
    run when the forward could not be made); ``what``: one line for the docs."""

    name: str
    result: type[Result]
    section: str
    task: type = object
    learner: tuple[type, ...] = (object,)
    run: Callable[[Context], Result] | None = None
    ready: Callable[[Context], str | None] = lambda c: None
    fourier: bool = False
    forward: bool = True
    what: str = ""

    def unmet(self, task: Any, learner: Any) -> str | None:
        """Why the analysis does not apply to ``task`` and ``learner`` (None: it does): a
        capability the task or learner lacks, named."""
        if not isinstance(task, self.task):
            return f"needs a task that is {self.task.__name__}, not {_describe(task)}"
        if not isinstance(learner, self.learner):
            names = " or ".join(t.__name__ for t in self.learner)
            return f"needs a learner that is {names}, not a {type(learner).__name__}"
        return fourier_reason(task) if self.fourier else None  # type: ignore[arg-type]


def _describe(task: Any) -> str:
    return task.describe() if hasattr(task, "describe") else type(task).__name__


def _needs_keys(c: Context) -> str | None:
    if c.keys:
        return None
    wl = c.results.get("neuron_logit_map")
    if isinstance(wl, NeuronLogitMapResult):
        n = len(wl.norms) - 1
        return (f"needs key frequencies, and W_L has no sparse Fourier structure "
                f"({wl.n_above_threshold} of {n} frequencies cross the rule; Gini "
                f"{wl.fourier.gini:.3f}); give key_freqs to run it anyway")  # fmt: skip
    return "needs key frequencies from the neuron-logit map, which did not run; give key_freqs"


def _needs_neurons(c: Context) -> str | None:
    if (why := _needs_keys(c)) is not None:
        return why
    ok = isinstance(c.results.get("neurons"), NeuronsResult)
    return None if ok else "needs the neuron fits, which did not run"


CATALOG: dict[str, Analysis] = {}


def register(analysis: Analysis) -> Analysis:
    """Declare an analysis (its name must be new); a pair analysis runs in every pair
    report from then on, after the ones declared before it."""
    if analysis.name in CATALOG:
        raise ValueError(f"an analysis named {analysis.name!r} is declared already")
    CATALOG[analysis.name] = analysis
    return analysis


def unregister(name: str) -> None:
    CATALOG.pop(name, None)


def get(name: str) -> Analysis:
    """The declaration of ``name``, or a KeyError naming the known ones."""
    if name not in CATALOG:
        raise KeyError(f"no analysis named {name!r}; known: {', '.join(CATALOG)}")
    return CATALOG[name]


def section(name: str) -> tuple[str, ...]:
    """The names of the analyses of one report section, in declaration order."""
    return tuple(a.name for a in CATALOG.values() if a.section == name)


PAIRS, LEARNERS = OnPairs, (Transformer,)
# the automaton's analyses: strings read by a recurrent learner or a transformer
PARITY: dict[str, Any] = {"section": "parity", "task": StreamingStrings,
                          "learner": (Recurrent, Transformer)}
for _a in (
    Analysis(name="embedding", fourier=True, forward=False, result=FourierNormsResult,
             section="pairs", task=PAIRS, learner=LEARNERS,
             run=lambda c: embedding_fourier(c.model, c.task),
             what="W_E's norm per Fourier frequency (Nanda et al. Sec. 4.1, Fig 3)"),
    Analysis(name="neuron_logit_map", fourier=True, result=NeuronLogitMapResult, section="pairs",
             task=PAIRS, learner=LEARNERS,
             run=lambda c: neuron_logit_map(c.model, c.task, key_freqs=c.options.key_freqs,
                                            threshold=c.threshold, data=c.gathered),
             what="W_L in the Fourier basis and the key frequencies (Sec. 4.1, Fig 4)"),
    Analysis(name="directions", fourier=True, result=DirectionsResult, section="pairs", task=PAIRS,
             learner=LEARNERS, ready=_needs_keys,
             run=lambda c: read_off_directions(c.model, c.task, key_freqs=c.keys, data=c.gathered),
             what="the logits' read-off directions u_k, v_k (App. C.1.1)"),
    Analysis(name="logit_fit", fourier=True, result=LogitFitResult, section="pairs", task=PAIRS,
             learner=LEARNERS, ready=_needs_keys,
             run=lambda c: logit_fit(c.model, c.task, key_freqs=c.keys, data=c.gathered),
             what="the logits fitted by cos(w(a+b-c)) (Sec. 4.2)"),
    Analysis(name="neurons", fourier=True, result=NeuronsResult, section="pairs", task=PAIRS,
             learner=LEARNERS, ready=_needs_keys,
             run=lambda c: neuron_fits(c.model, c.task, key_freqs=c.keys,
                                       basis=c.options.basis, data=c.gathered),
             what="neurons clustered by frequency and fitted (Sec. 4.2, Fig 5, Table 2)"),
    Analysis(name="attention", fourier=True, result=AttentionResult, section="pairs", task=PAIRS,
             learner=LEARNERS, run=lambda c: attention_heads(c.model, c.task, data=c.gathered),
             what="the attention heads' periodic scores (App. A.1)"),
    Analysis(name="efficiency", fourier=True, result=EfficiencyResult, section="pairs", task=PAIRS,
             learner=LEARNERS, run=lambda c: efficiency(c.model, c.task, data=c.gathered),
             what="Varma et al.'s o_trig, o_mem and the parameter norm (Fig 9)"),
    Analysis(name="representation", fourier=True, result=RepresentationResult, section="pairs",
             task=PAIRS, learner=(Transformer, Embeds),
             run=lambda c: representation(c.model, c.task, data=c.gathered,
                                          key_freqs=c.keys or None),
             what="Liu et al.'s representation quality (RQI) of the embedding"),
    Analysis(name="circuit_density", result=CircuitDensityResult, section="pairs",
             task=PAIRS, learner=LEARNERS,
             run=lambda c: circuit_density(c.model, c.task, c.gathered.sets.get("train")),
             what="Humayun et al.'s local complexity around the inputs"),
    Analysis(name="algorithm", fourier=True, result=AlgorithmResult, section="pairs", task=PAIRS,
             learner=LEARNERS, run=lambda c: algorithm(c.model, c.task, data=c.gathered),
             what="Zhong et al.'s clock or pizza"),
    Analysis(name="ablations", fourier=True, result=AblationsResult, section="pairs", task=PAIRS,
             learner=LEARNERS, ready=_needs_neurons,
             run=lambda c: ablations(c.model, c.task, key_freqs=c.keys, data=c.gathered,
                                     neurons=c.results["neurons"],  # type: ignore[arg-type]
                                     restricted=c.options.restricted),
             what="restricted and excluded losses, ablations (Sec. 4.3, Tables 1, 4-6)"),
    Analysis(name="irreps", result=IrrepsResult, section="pairs", task=PAIRS,
             learner=LEARNERS, forward=False,
             run=lambda c: task_irreps(c.model, c.task, train=c.train_idx),
             what="Chughtai et al.'s irreducible representations: shares, logit trace "
                  "similarity, excluded and restricted losses, key irreps"),
    Analysis(name="over_training", result=CurvesResult, section="over training",
             what="the measures of every paper at each snapshot of a Run"),
    Analysis(name="automaton", result=AutomatonResult, **PARITY,
             what="the hidden states' automaton, leader rule (van Rossem & Saxe Sec. 3)"),
    Analysis(name="automaton_scale_free", result=AutomatonResult, **PARITY,
             what="the automaton by the scale-free rule"),
    Analysis(name="length_generalisation", result=LengthResult, **PARITY,
             what="accuracy on strings longer than the training ones"),
    Analysis(name="states_over_training", result=StatesResult, **PARITY,
             what="states, mergers and splits at each snapshot"),
    Analysis(name="interaction", result=InteractionResult, section="parity",
             task=StreamingStrings, learner=(Recurrent,),
             what="the interaction theory's terms over training"),
    Analysis(name="head_scores", result=HeadScoresResult, section="sequences",
             task=TokenSequences, learner=LEARNERS,
             what="induction, previous-token and big-token scores (App. D.3)"),
    Analysis(name="position_losses", result=PositionLossResult, section="sequences",
             task=TokenSequences, learner=LEARNERS,
             what="the test loss at each output position (App. D.3)"),
):  # fmt: skip
    register(_a)
PAIR_ANALYSES = section("pairs")
