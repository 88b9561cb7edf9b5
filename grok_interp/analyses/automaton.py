"""Automaton extraction and state mergers of streaming parity (van Rossem & Saxe 2025; the
notes' "Observation").

The hidden-state automaton of a model at one snapshot (:func:`extract_automaton`):

- Nodes: every training prefix, the strings of length 0..``max_len`` (2,047 for 10), in
  breadth-first order (:func:`grok_interp.streaming.node_id`). A node's state is the RNN's
  hidden state after reading it (the empty string: the initial state), or a transformer's
  final residual stream at its last position (the empty string has none and is a state
  of its own); its output is the class the model's output picks there.
- States: the nodes clustered by one of two rules. ``"leader"`` is the authors'
  ``group_activations`` (``source/data_analysis/automata.py``): nodes in breadth-first
  order, each joining the first group whose leader (its first node) lies within the
  merge distance, else leading a new group; the merge distance is ``tol`` (their
  ``thresh_factor``, 0.01) times the norm of the per-unit standard deviation of the
  states. ``"scale-free"`` (earlier called ``"consistent"``) has no tolerance: the
  coarsest cut of the single-linkage tree of the states (fewest clusters first) whose
  clusters each agree on one output class and move to one cluster per symbol, i.e. the
  coarsest clustering by distance that is itself a deterministic automaton of the
  network's behaviour on the training prefixes. Rescaling the states changes nothing.
  It reads the outputs, which the leader rule does not; a network that outputs one class
  everywhere (at initialisation) is one state.
- Transitions: state(n) --s--> state(child of n by s), taken by majority over the nodes
  of a state; ``conflicts`` counts (state, symbol) pairs whose nodes disagree (0: the
  clusters form a deterministic automaton). A state none of whose nodes has children
  (the longest strings') has no transitions: the automaton is *complete* when every
  state has both, which a tree is not and the parity machine is.
- Outputs: the majority output class of a state's nodes.
- The minimal equivalent (:meth:`Automaton.minimal`): the states reachable from the
  initial one, a sink added for missing transitions, and Hopcroft's partition
  refinement on the outputs (a Moore machine); the sink is not counted.

Over training (:func:`automaton_over_training`): the automaton of every snapshot with one
merge distance for the whole run, the authors' choice (``tol`` times the spread of all
snapshots' states pooled), and mergers and splits per snapshot as the authors count them
(``AutomatonHistory.get_state_changes``): a state is the set of nodes it holds; with
``removed`` the previous snapshot's states that are gone and ``added`` the new ones,
mergers = (2 removed - added) / 3 and splits = (2 added - removed) / 3, truncated to
integers (a merger of two states removes two and adds one; a split the reverse).

The interaction theory that explains the mergers: :mod:`grok_interp.analyses.interaction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float
from scipy.cluster.hierarchy import fcluster, linkage
from torch import Tensor

from grok_interp import tl
from grok_interp.analyses.automaton_figures import automaton_figure, rules_figure
from grok_interp.analyses.common import AnalysisError, Result, history_at
from grok_interp.capabilities import Recurrent, StreamingStrings
from grok_interp.runs import Run, model_from_run
from grok_interp.streaming import (
    ParityTask,
    all_strings,
    prefix_rows,
)

# The two clustering rules (module docstring), by the one name each has everywhere;
# "consistent", the scale-free rule's earlier name, is still read.
METHODS = ("leader", "scale-free")
ALIASES = {"consistent": "scale-free"}


def check_parity_model(model: Any, task: ParityTask) -> None:
    """An AnalysisError unless ``task`` is one of streaming strings (a capability,
    :class:`~grok_interp.capabilities.StreamingStrings`) and ``model`` a transformer that
    reads it or a :class:`~grok_interp.capabilities.Recurrent` learner."""
    if not isinstance(task, StreamingStrings):
        raise AnalysisError(f"automaton extraction needs streaming parity, not {task.describe()}")
    if tl.is_transformer(model):
        if model.cfg.d_vocab != 2 or model.cfg.n_ctx < task.max_len:
            raise AnalysisError("a transformer on streaming parity reads 2 symbols and at "
                                f"least {task.max_len} positions")  # fmt: skip
    elif not isinstance(model, Recurrent):
        raise AnalysisError("automaton extraction reads a HookedTransformer or a recurrent "
                            "learner (initial_state, hidden, readout: a HookedRNN)")  # fmt: skip


@torch.no_grad()
def prefix_states(
    model: Any, max_len: int
) -> tuple[Float[Tensor, "nodes d"], Float[Tensor, "nodes d_out"]]:
    """The state and output of every prefix node (module docstring), float64, (nodes, d)
    and (nodes, d_out); a transformer's empty-string row is NaN."""
    longest = all_strings(max_len).to(next(model.parameters()).device)
    if isinstance(model, Recurrent):
        hidden = model.hidden(longest)
        outputs = model.readout(hidden)
        first_h = model.initial_state(1)
        first_y = model.readout(first_h)
    else:  # a transformer (check_parity_model)
        name = f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"
        outputs, cache = model.run_with_cache(longest, names_filter=name)
        hidden = cache[name]
        first_h = torch.full((1, hidden.shape[-1]), float("nan"))
        first_y = torch.full((1, outputs.shape[-1]), float("nan"))
    hs = torch.cat([first_h.cpu(), prefix_rows(hidden, max_len).cpu()])
    ys = torch.cat([first_y.cpu(), prefix_rows(outputs, max_len).cpu()])
    return hs.double(), ys.double()


def spread(states: np.ndarray) -> float:
    """The norm of the per-unit standard deviation over the rows (the authors' ``std``)."""
    return float(np.linalg.norm(np.nanstd(states, axis=0)))


def leader_clusters(states: np.ndarray, merge_distance: float) -> np.ndarray:
    """The authors' leader clustering (module docstring) of the rows of ``states``; a row
    of NaN is a cluster of its own."""
    labels = np.empty(len(states), dtype=np.int64)
    leaders: list[int] = []
    for i, h in enumerate(states):
        if np.isnan(h).any():
            labels[i] = len(leaders)
            leaders.append(i)
            continue
        if leaders:
            d = np.linalg.norm(states[leaders] - h, axis=1)
            hit = np.flatnonzero(d < merge_distance)
            if len(hit):
                labels[i] = labels[leaders[hit[0]]]
                continue
        labels[i] = len(leaders)
        leaders.append(i)
    return _renumber(labels)


def consistent_clusters(states: np.ndarray, classes: np.ndarray,
                        max_len: int) -> tuple[np.ndarray, float]:  # fmt: skip
    """The scale-free rule (module docstring): the coarsest cut of the single-linkage
    tree whose clusters agree on their output and form a deterministic automaton.
    Returns the labels and the height of the last merge the cut keeps (0: none)."""
    ok = ~np.isnan(states).any(1)
    z = linkage(states[ok], method="single")
    inner = np.arange(2**max_len - 1)
    lone = int((~ok).sum())

    def labels_at(k: int) -> np.ndarray:
        labels = np.empty(len(states), dtype=np.int64)
        labels[ok] = fcluster(z, t=k, criterion="maxclust") - 1 + lone
        labels[~ok] = np.arange(lone)
        return labels

    # agreeing on outputs is kept by every finer cut (the cuts are nested): bisect for the
    # coarsest such cut, then scan finer ones for the first that is also deterministic
    lo, hi = 1, int(ok.sum())
    while lo < hi:
        mid = (lo + hi) // 2
        if _consistent(labels_at(mid), classes, inner, moves=False):
            hi = mid
        else:
            lo = mid + 1
    for k in range(lo, int(ok.sum()) + 1):
        labels = labels_at(k)
        if _consistent(labels, classes, inner):
            n, m = len(np.unique(labels[ok])), int(ok.sum())  # the last merge made
            return _renumber(labels), float(z[m - n - 1, 2]) if n < m else 0.0
    return _renumber(np.arange(len(states))), 0.0


def _consistent(labels: np.ndarray, classes: np.ndarray, inner: np.ndarray,
                moves: bool = True) -> bool:  # fmt: skip
    """Whether every cluster's nodes share one output class (nodes without one aside)
    and (``moves``) one successor cluster per symbol."""
    n = len(labels)
    has = classes >= 0
    out = labels[has]
    if len(np.unique(out * n + classes[has])) > len(np.unique(out)):
        return False
    src = labels[inner]
    for s in (0, 1) if moves else ():
        if len(np.unique(src * n + labels[2 * inner + 1 + s])) > len(np.unique(src)):
            return False
    return True


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Labels numbered in order of first appearance (the initial node's state is 0)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse]


@dataclass(frozen=True)
class Automaton:
    """A deterministic Moore machine over {0, 1}: ``transitions[q, s]`` the next state
    (-1: none), ``outputs[q]`` the output class (-1: none), state ``initial`` first."""

    transitions: np.ndarray
    outputs: np.ndarray
    initial: int = 0
    conflicts: int = 0

    @property
    def n_states(self) -> int:
        return len(self.outputs)

    @property
    def complete(self) -> bool:
        return bool((self.transitions >= 0).all())

    def run(self, string: str | list[int]) -> list[int]:
        """The output after each symbol (-1 once a transition is missing)."""
        q, out = self.initial, []
        for s in string:
            q = -1 if q < 0 else int(self.transitions[q, int(s)])
            out.append(-1 if q < 0 else int(self.outputs[q]))
        return out

    def minimal(self) -> Automaton:
        """The minimal equivalent (module docstring): reachable states, Hopcroft. An
        initial state without an output (the empty string has no target) and without
        incoming transitions joins the class of any state with the same successors, as
        its own output is never read."""
        reach = [self.initial]
        seen = {self.initial}
        for q in reach:
            for nxt in self.transitions[q]:
                if nxt >= 0 and int(nxt) not in seen:
                    seen.add(int(nxt))
                    reach.append(int(nxt))
        index = {q: i for i, q in enumerate(reach)}
        sink = len(reach)
        trans = np.full((sink + 1, 2), sink)
        for q, i in index.items():
            for s in (0, 1):
                nxt = int(self.transitions[q, s])
                if nxt >= 0:
                    trans[i, s] = index[nxt]
        outs = np.append(self.outputs[reach], -2)  # the sink's output is its own
        block = hopcroft(trans, outs)
        if outs[0] == -1 and not (trans == 0).any():  # never re-entered: never read
            succ = block[trans[0]]
            twins = [q for q in range(1, sink) if (block[trans[q]] == succ).all()]
            if twins:
                block[0] = block[twins[0]]
        renum = _renumber(block)
        n = int(renum[:sink].max()) + 1
        new_t = np.full((n, 2), -1)
        new_o = np.full(n, -1)
        for i in range(sink):
            if outs[i] != -1 or new_o[renum[i]] == -1:
                new_o[renum[i]] = outs[i]
            for s in (0, 1):
                j = trans[i, s]
                new_t[renum[i], s] = -1 if j == sink else renum[j]
        return Automaton(transitions=new_t, outputs=new_o, initial=int(renum[0]))

    def is_parity_machine(self) -> bool:
        """Whether the minimal equivalent is the two-state parity machine: states 'even'
        and 'odd' with different outputs, each symbol 1 swapping them, 0 keeping them."""
        m = self.minimal()
        if m.n_states != 2 or not m.complete or m.outputs[0] == m.outputs[1]:
            return False
        return all(m.transitions[q, 0] == q and m.transitions[q, 1] == 1 - q for q in (0, 1))


def hopcroft(transitions: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Hopcroft's partition refinement of a complete DFA with per-state outputs: the
    coarsest partition that refines the outputs and is stable under the transitions.
    Returns a block number per state (equal: equivalent states)."""
    n, k = transitions.shape
    preimage: list[list[list[int]]] = [[[] for _ in range(n)] for _ in range(k)]
    for q in range(n):
        for s in range(k):
            preimage[s][int(transitions[q, s])].append(q)
    blocks: list[set[int]] = []
    for o in np.unique(outputs):
        blocks.append(set(np.flatnonzero(outputs == o).tolist()))
    block_of = np.empty(n, dtype=np.int64)
    for b, members in enumerate(blocks):
        block_of[list(members)] = b
    work = list(range(len(blocks)))
    waiting = set(work)
    while work:
        a = work.pop()
        waiting.discard(a)
        splitter = set(blocks[a])
        for s in range(k):
            x = {p for q in splitter for p in preimage[s][q]}
            touched = {int(block_of[p]) for p in x}
            for b in touched:
                inside = blocks[b] & x
                if len(inside) == len(blocks[b]):
                    continue
                outside = blocks[b] - x
                blocks[b] = inside
                blocks.append(outside)
                new = len(blocks) - 1
                block_of[list(outside)] = new
                if b in waiting:
                    work.append(new)
                    waiting.add(new)
                else:
                    smaller = b if len(inside) <= len(outside) else new
                    work.append(smaller)
                    waiting.add(smaller)
    return block_of


def automaton_from_labels(labels: np.ndarray, node_outputs: np.ndarray,
                          max_len: int) -> Automaton:  # fmt: skip
    """The automaton whose states are ``labels`` of the prefix nodes (module docstring):
    majority transitions and outputs, the empty string's state initial."""
    n = int(labels.max()) + 1
    inner = np.arange(2**max_len - 1)  # nodes with children
    moves = [(labels[inner] * 2 + s, labels[2 * inner + 1 + s]) for s in (0, 1)]
    trans, conflicts = _majority(np.concatenate([k for k, _ in moves]),
                                 np.concatenate([v for _, v in moves]), 2 * n)  # fmt: skip
    has = node_outputs >= 0
    outs, _ = _majority(labels[has], node_outputs[has], n)
    return Automaton(transitions=trans.reshape(n, 2), outputs=outs, initial=int(labels[0]),
                     conflicts=conflicts)  # fmt: skip


def _majority(keys: np.ndarray, values: np.ndarray, n_keys: int) -> tuple[np.ndarray, int]:
    """For each key in 0..n_keys-1, its most frequent value (the smallest among ties; -1
    where it has none), and the number of keys with more than one distinct value."""
    span = int(values.max()) + 1 if len(values) else 1
    pairs, counts = np.unique(keys * span + values, return_counts=True)
    key, value = pairs // span, pairs % span
    order = np.lexsort((-counts, key))  # by key, then most frequent, then smallest value
    key, value = key[order], value[order]
    first = np.r_[True, key[1:] != key[:-1]]
    best = np.full(n_keys, -1)
    best[key[first]] = value[first]
    return best, int((np.bincount(key) > 1).sum())  # the pairs are distinct


def _node_classes(outputs: Tensor) -> np.ndarray:
    """Each node's output class; none (-1) for the empty string, which has no target."""
    cls = outputs.argmax(-1).numpy()
    cls[0] = -1
    return cls


def rule(method: str) -> str:
    """The clustering rule's one name (:data:`METHODS`), or a ValueError naming them."""
    method = ALIASES.get(method, method)
    if method not in METHODS:
        raise ValueError(f"unknown clustering rule {method!r}; known: {', '.join(METHODS)}")
    return method


def cluster(states: Float[Tensor, "nodes d"], classes: np.ndarray, method: str = "leader",
            tol: float = 0.01,
            merge_distance: float | None = None) -> tuple[np.ndarray, float]:  # fmt: skip
    """State labels of the prefix nodes and the distance used (``"scale-free"``: the
    cut's height)."""
    x = states.numpy()
    method = rule(method)
    if method == "scale-free":
        return consistent_clusters(x, classes, int(np.log2(len(x) + 1)) - 1)
    if method != "leader":
        raise ValueError(f"unknown clustering method {method!r}; known: {', '.join(METHODS)}")
    d = tol * spread(x) if merge_distance is None else merge_distance
    return leader_clusters(x, d), d


@dataclass(frozen=True)
class AutomatonResult(Result):
    """The extracted automaton of one snapshot and its minimal equivalent."""

    method: str
    merge_distance: float
    n_nodes: int
    n_states: int
    complete: bool
    conflicts: int
    n_minimal: int
    parity_machine: bool
    automaton: Automaton = field(repr=False)
    minimal: Automaton = field(repr=False)
    labels: np.ndarray = field(repr=False)

    title = "Hidden-state automaton (van Rossem & Saxe 2025)"
    section = "the notes' Observation; authors' automata.py"

    def heading(self) -> str:
        return f"{self.title}, {self.method} rule ({self.section})"

    def table(self) -> pd.DataFrame:
        m = self.minimal
        rows = [{"state": q, "output": int(m.outputs[q]),
                 "on 0": int(m.transitions[q, 0]), "on 1": int(m.transitions[q, 1]),
                 "initial": q == m.initial} for q in range(m.n_states)]  # fmt: skip
        return pd.DataFrame(rows)

    def notes(self) -> list[str]:
        return [f"{self.n_nodes} prefix nodes -> {self.n_states} states ({self.method} "
                f"clustering, merge distance {self.merge_distance:.3g}); "
                f"{'complete' if self.complete else 'incomplete'}, {self.conflicts} "
                f"conflicting transitions; minimal equivalent (Hopcroft): {self.n_minimal} "
                f"states{', the parity machine' if self.parity_machine else ''}; the "
                "table is the minimal automaton (-1: no transition)"]  # fmt: skip

    def figure(self) -> go.Figure:
        return automaton_figure(self.minimal, f"{self.title}: minimal, {self.n_minimal} states")


def extract_automaton(model: Any, task: ParityTask | None = None, *, method: str = "leader",
                      tol: float = 0.01,
                      merge_distance: float | None = None) -> AutomatonResult:  # fmt: skip
    """The hidden-state automaton of ``model`` on the training prefixes (module
    docstring); ``merge_distance`` overrides ``tol`` times this snapshot's spread."""
    task, method = task or ParityTask(), rule(method)
    check_parity_model(model, task)
    states, outputs = prefix_states(model, task.max_len)
    classes = _node_classes(outputs)
    labels, d = cluster(states, classes, method, tol, merge_distance)
    auto = automaton_from_labels(labels, classes, task.max_len)
    minimal = auto.minimal()
    return AutomatonResult(
        method=method, merge_distance=d, n_nodes=len(labels), n_states=auto.n_states,
        complete=auto.complete, conflicts=auto.conflicts, n_minimal=minimal.n_states,
        parity_machine=minimal.is_parity_machine(), automaton=auto, minimal=minimal,
        labels=labels,
    )  # fmt: skip


def snapshot_model(run: Run, step: int | None = None) -> Any:
    """The run's model (an RNN or a transformer) at snapshot ``step`` (None: final):
    :func:`~grok_interp.runs.model_from_run`, the one loader, under its older name here."""
    return model_from_run(run, step)


def parity_task(run: Run) -> ParityTask:
    """The run's task, or an AnalysisError unless its family has the automaton analyses."""
    if "automaton" not in run.family.analyses:
        raise AnalysisError(f"this run is on {run.task.describe()}, not streaming parity")
    task: ParityTask = run.task
    return task


def automaton_over_training(run: Run, *, method: str = "leader", tol: float = 0.01,
                            steps: list[int] | None = None) -> pd.DataFrame:  # fmt: skip
    """Per snapshot (module docstring): ``n_states``, ``n_minimal``, ``complete``,
    ``conflicts``, ``mergers``, ``splits`` (from the previous snapshot) beside the run's
    losses and accuracies there."""
    task, method = parity_task(run), rule(method)
    steps = sorted(run.snapshots) if steps is None else steps
    found = [prefix_states(snapshot_model(run, s), task.max_len) for s in steps]
    pooled = np.concatenate([h.numpy() for h, _ in found])
    d = tol * spread(pooled) if method == "leader" else None
    rows, before = [], None
    for s, (h, y) in zip(steps, found, strict=True):
        classes = _node_classes(y)
        labels, cut = cluster(h, classes, method, tol, d)
        auto = automaton_from_labels(labels, classes, task.max_len)
        now = {frozenset(np.flatnonzero(labels == q).tolist()) for q in range(auto.n_states)}
        merged = split = 0
        if before is not None:
            removed, added = len(before - now), len(now - before)
            merged, split = int((2 * removed - added) / 3), int((2 * added - removed) / 3)
        before = now
        keys = ("train_loss", "test_loss", "train_acc", "test_acc", "test_string_acc")
        rows.append({"epoch": s, **history_at(run.history, s, keys), "n_states": auto.n_states,
                     "n_minimal": auto.minimal().n_states, "complete": auto.complete,
                     "conflicts": auto.conflicts, "mergers": merged, "splits": split,
                     "merge_distance": cut})  # fmt: skip
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class StatesResult(Result):
    """The automaton over training (:func:`automaton_over_training`), by both rules."""

    frames: dict[str, pd.DataFrame] = field(repr=False)

    title = "States over training (van Rossem & Saxe 2025)"
    section = "the notes' Observation: tree, mergers, generalisation"

    def table(self) -> pd.DataFrame:
        cols = ["epoch", "train_loss", "test_loss", "n_states", "n_minimal", "complete",
                "mergers", "splits"]  # fmt: skip
        parts = [f[[c for c in cols if c in f]].assign(rule=m) for m, f in self.frames.items()]
        return pd.concat(parts, ignore_index=True)

    def milestones(self, method: str) -> dict[str, float]:
        """Epochs of the most states, of the first complete automaton after it whose
        minimal equivalent is 2 states, and of the first test string accuracy of 1."""
        f = self.frames[method]
        peak = int(f["n_states"].idxmax())
        after = f.iloc[peak:]
        two = after[(after["n_minimal"] == 2) & after["complete"]]
        acc = f[f.get("test_string_acc", pd.Series(0.0, index=f.index)) >= 1.0]
        return {"peak_epoch": float(f["epoch"][peak]), "peak_states": float(f["n_states"][peak]),
                "two_state_epoch": float(two["epoch"].iloc[0]) if len(two) else float("nan"),
                "generalised_epoch": float(acc["epoch"].iloc[0]) if len(acc) else float("nan"),
                "final_states": float(f["n_states"].iloc[-1])}  # fmt: skip

    def notes(self) -> list[str]:
        out = []
        for m in self.frames:
            s = self.milestones(m)
            out.append(f"{m} rule: most states {s['peak_states']:.0f} at epoch "
                       f"{s['peak_epoch']:.0f}; minimal automaton 2 states and complete from "
                       f"epoch {s['two_state_epoch']:.0f}; every validation string right from "
                       f"epoch {s['generalised_epoch']:.0f}; {s['final_states']:.0f} states at "
                       "the end")  # fmt: skip
        return out + ["mergers and splits are the authors' (2 removed - added) / 3 and (2 added "
                      "- removed) / 3 between snapshots; negative when a change is neither"]

    def figure(self) -> go.Figure:
        """Both rules side by side: the leader rule's states and the scale-free rule's
        collapse on the same epochs."""
        return rules_figure(self.frames, self.title)
