"""How much of a group-composition model each irreducible representation explains:
Chughtai, Chan & Nanda (2023), the evidence for their "group composition via
representations" algorithm (logit attribution, embeddings and unembedding, neurons,
ablations by excluded and restricted loss), with every definition taken from the authors'
code (``rep_theory/utils/metrics.py``, class ``Metrics``; bilal-chughtai/
rep-theory-mech-interp), whose metric names these are.

Pairs are ``(x, y)`` with index ``x n + y`` (x-major) and answer ``table[x, y]``; ``z``
ranges over the n answer classes. For an irrep ``rho`` with character ``chi``:

- ``percent_x_embed``, ``percent_y_embed`` (``percent_total_embed``): the share of
  ``||W_E||^2`` (rows 0 .. n-1, uncentred) in the span of rho's matrix entries as
  functions on G (``compute_orth_rep``: QR of the (n, d^2) entries;
  :func:`grok_interp.groups.entry_basis`). For a transformer both read ``W_E``.
- ``percent_unembed`` (``percent_unembed``): the same share of the neuron-to-logit map's
  ``||W_U||^2`` along its class axis; for a transformer that map is ``W_out W_U``
  (``get_unembed``).
- ``percent_hidden_x``, ``_y``, ``_xy`` (``percent_hidden``): the share of the hidden
  activations' ``||h - mean||^2`` (over all n^2 pairs, the answer position's MLP
  post-activations for a transformer) in the span of the entries of ``rho(x)``,
  ``rho(y)``, ``rho(xy)`` as functions of the pair; ``percent_hidden`` is their sum (the
  authors' ``total_percent_hidden``). The projections are computed from the hidden's sums
  over y, over x and over pairs with the same product (n x d_hidden each), which give
  exactly the authors' QR projections on the n^2 x d^2 matrices without building them.
- ``logit_trace_similarity`` (``logit_trace_similarity``): the cosine, over all n^3
  entries, between the logits centred over z and the cube ``chi(x y z^-1)`` (not centred:
  it sums to 0 over z for a non-trivial irrep). Computed from the centred logits summed
  over pairs with the same product (an n x n matrix), since the cube depends on ``xy``
  and z only: the n^3 cube is never built.
- ``logit_excluded_loss`` / ``logit_restricted_loss``
  (``logit_excluded_and_restricted_loss``): the centred logits minus / only their
  component along the cube (``sim * ||logits|| * cube / ||cube||``); cross-entropy on
  the train pairs (excluded) and on all pairs (restricted).
- ``hidden_excluded_loss`` / ``hidden_restricted_loss``
  (``hidden_excluded_and_restricted_loss``): the hidden activations (not centred) minus /
  only their projection on the ``rho(xy)`` span, mapped to logits by ``W_U`` alone.
- Key irreps (``determine_key_reps``): the non-trivial irreps whose logit trace
  similarity exceeds 0.005. ``totals`` adds the authors' sums over them
  (``percent_x_embed_explained``...), ``percent_logits_explained`` (the sum of the squared
  similarities over every non-trivial irrep) and the key irreps' joint excluded and
  restricted losses (``total_logit_...``, ``total_hidden_...``).

Decisions where the code leaves room: losses are float64 cross-entropies (theirs cast
float32 logits to float64 too); the "train pairs" of the excluded losses are the caller's
(``train``; for the authors' checkpoints :func:`grok_interp.chughtai.chughtai_train_pairs`
gives theirs), all pairs when none is given. For C_n's 2-d irreps the authors' hidden
QR keeps two spurious columns (the 4 entries span 2 dimensions) and ours keeps the
span only, so ``percent_hidden_*`` of a cyclic group's ``freq_k`` may differ from
theirs; every other metric is basis-free and equal up to float32 rounding.

Memory: everything is accumulated over chunks of pairs (``chunk``), in two passes (the
excluded losses need the similarities of the first); the largest objects are n x n and
n x d_hidden, so S6 (518,400 pairs) needs no n^3 or n^2 x d_hidden tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import pandas as pd
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp.analyses.common import AnalysisError, Result
from grok_interp.groups import Group, character, entry_basis
from grok_interp.tl import Model

KEY_THRESHOLD = 0.005  # determine_key_reps
METRICS = (
    "percent_x_embed", "percent_y_embed", "percent_unembed", "percent_hidden_x",
    "percent_hidden_y", "percent_hidden_xy", "percent_hidden", "logit_trace_similarity",
    "logit_excluded_loss", "logit_restricted_loss", "hidden_excluded_loss",
    "hidden_restricted_loss",
)  # fmt: skip
DEFAULT_CHUNK = 8192
# pair indices -> (logits over the n classes, hidden activations) for those pairs
PairsFn = Callable[[Int[Tensor, " batch"]],
                   tuple[Float[Tensor, "batch n"], Float[Tensor, "batch d_hidden"]]]  # fmt: skip


@dataclass(frozen=True)
class IrrepsResult(Result):
    """Per-irrep metrics (module docstring; the authors' names), the key irreps, and the
    loss and accuracy over all pairs. ``totals`` holds the authors' sums over the key
    irreps and, where a train set was given, ``train_loss`` and ``test_loss``."""

    group: str
    key: tuple[str, ...]
    per_irrep: dict[str, dict[str, float]]
    dims: dict[str, int]
    loss: float
    accuracy: float
    totals: dict[str, float]
    n_excluded_pairs: int

    title = "Irreducible representations"
    section = "the GCR evidence: logits, embeddings, neurons, ablations"
    paper_name = "Chughtai, Chan & Nanda 2023"

    # the irreps a table shows at most; report.json and ``per_irrep`` hold every one
    SHOWN = 12
    COLUMNS = ("percent_x_embed", "percent_y_embed", "percent_unembed", "percent_hidden",
               "logit_trace_similarity", "logit_excluded_loss", "logit_restricted_loss")

    def shown(self) -> list[str]:
        """The irreps the table shows: all of them up to ``SHOWN``, else the key irreps,
        the trivial one and the others of largest logit trace similarity."""
        names = list(self.per_irrep)
        if len(names) <= self.SHOWN:
            return names
        sim = {n: abs(self.per_irrep[n]["logit_trace_similarity"]) for n in names}
        first = [n for n in names if n in self.key or n == "trivial"]
        rest = sorted((n for n in names if n not in first), key=lambda n: -sim[n])
        keep = set(first + rest[: max(0, self.SHOWN - len(first))])
        return [n for n in names if n in keep]

    def table(self) -> pd.DataFrame:
        rows = [{"irrep": name, "dim": self.dims[name], "key": "yes" if name in self.key else "",
                 **{c: f"{self.per_irrep[name][c]:.3g}" for c in self.COLUMNS}}
                for name in self.shown()]  # fmt: skip
        return pd.DataFrame(rows)

    def figure(self) -> go.Figure:
        names = list(self.per_irrep)
        fig = go.Figure()
        for metric in ("logit_trace_similarity", "percent_x_embed", "percent_unembed",
                       "percent_hidden"):  # fmt: skip
            fig.add_bar(x=names, y=[self.per_irrep[n][metric] for n in names], name=metric)
        title = (f"{self.heading()}: {self.group}, key {', '.join(self.key) or 'none'} "
                 "(Chughtai et al. 2023; their code's utils/metrics.py)")
        fig.update_layout(title=title, barmode="group", xaxis_title="irrep",
                          yaxis_title="share / cosine")  # fmt: skip
        return fig

    def notes(self) -> list[str]:
        return [
            f"key irreps: logit trace similarity above {KEY_THRESHOLD} (determine_key_reps)",
            f"excluded losses average over {self.n_excluded_pairs} pairs (the train pairs "
            "where given), restricted losses over all pairs",
            "percent_hidden is the authors' total_percent_hidden (x + y + xy); its x, y and "
            "xy parts and the hidden excluded and restricted losses are in report.json",
        ] + ([f"{len(self.per_irrep) - len(self.shown())} of {len(self.per_irrep)} irreps, "
              f"none key and of smallest logit trace similarity, are left out of the "
              "table (report.json holds every one)"]
             if len(self.shown()) < len(self.per_irrep) else [])  # fmt: skip


class _Sums(NamedTuple):
    """First-pass sums over pairs (float64)."""

    loss: Float[Tensor, ""]
    correct: Float[Tensor, ""]
    train_loss: Float[Tensor, ""]
    logits_by_product: Float[Tensor, "n n"]  # centred logits summed over pairs with xy = w
    logits_norm2: Float[Tensor, ""]
    hidden: Float[Tensor, " d_hidden"]
    hidden_norm2: Float[Tensor, ""]
    by_x: Float[Tensor, "n d_hidden"]
    by_y: Float[Tensor, "n d_hidden"]
    by_product: Float[Tensor, "n d_hidden"]


def from_tensors(logits: Float[Tensor, "pairs n"],
                 hidden: Float[Tensor, "pairs d_hidden"]) -> PairsFn:  # fmt: skip
    """A :data:`PairsFn` over precomputed logits and hidden activations of all pairs."""
    return lambda idx: (logits[idx], hidden[idx])


def _chunks(idx: Int[Tensor, " pairs"], chunk: int) -> list[Tensor]:
    return list(idx.split(chunk))


class _Shifted(NamedTuple):
    """One chunk's logits read once for every irrep's excluded loss: ``exp(l - max l)``
    per row, the row maxima and the correct logits (:func:`_ce_minus`)."""

    exp: Float[Tensor, "batch n"]
    top: Float[Tensor, " batch"]
    correct: Float[Tensor, " batch"]
    spread: float  # the largest max - min of a row


def _shifted(logits: Float[Tensor, "batch n"], labels: Int[Tensor, " batch"]) -> _Shifted:
    top = logits.amax(-1)
    spread = float((top - logits.amin(-1)).max())
    return _Shifted(torch.exp(logits - top[:, None]), top,
                    logits.gather(1, labels[:, None])[:, 0], spread)  # fmt: skip


class _Part(NamedTuple):
    """An irrep's logit part P (n x n, by product) with ``exp(-P)`` and ``max |P|``."""

    table: Float[Tensor, "n n"]
    exp_neg: Float[Tensor, "n n"]
    size: float

    @classmethod
    def of(cls, table: Float[Tensor, "n n"]) -> _Part:
        return cls(table, torch.exp(-table), float(table.abs().max()))


def _ce_minus(logits: Float[Tensor, "batch n"], shifted: _Shifted, part: _Part,
              labels: Int[Tensor, " batch"], buf: Float[Tensor, "batch n"]) -> float:
    """The summed cross-entropy of ``logits - part[labels]``. ``sum_c exp(l_c - P[z, c])``
    is ``exp(max l) * sum_c exp(l_c - max l) * exp(-P[z, c])``: the exponentials of the
    chunk (``shifted``) and of the part are taken once, so each irrep costs a gather and a
    product instead of an exponential per entry. No term can leave float64's exponent
    range while a row's spread plus twice ``max |P|`` stays under 600 (an entry ``exp(l_c
    - max l)`` that underflows would need a part of over 300 to matter); beyond that the
    plain logsumexp is used (``buf``: scratch space, so S6's chunks allocate nothing)."""
    if shifted.spread + 2 * part.size > 600:
        torch.index_select(part.table, 0, labels, out=buf)
        buf.neg_().add_(logits)
        return float(torch.logsumexp(buf, -1).sum() - buf.gather(1, labels[:, None]).sum())
    own = part.table[labels, labels]  # P[z, z]
    torch.index_select(part.exp_neg, 0, labels, out=buf)
    total = torch.einsum("bn,bn->b", shifted.exp, buf)
    return float((shifted.top + total.log() - shifted.correct + own).sum())


def _first_pass(group: Group, run: PairsFn, train_mask: Tensor, chunk: int) -> _Sums:
    n = group.order
    labels = group.table.reshape(-1)
    sums: dict[str, Tensor] = {}
    for idx in _chunks(torch.arange(n * n), chunk):
        logits, hidden = (t.detach().double().cpu() for t in run(idx))
        z = labels[idx]
        centred = logits - logits.mean(-1, keepdim=True)
        per = F.cross_entropy(logits, z, reduction="none")
        part = {
            "loss": per.sum(), "correct": (logits.argmax(-1) == z).double().sum(),
            "train_loss": per[train_mask[idx]].sum(),
            "logits_by_product": torch.zeros(n, n, dtype=torch.float64).index_add_(0, z, centred),
            "logits_norm2": centred.pow(2).sum(), "hidden": hidden.sum(0),
            "hidden_norm2": hidden.pow(2).sum(),
            "by_x": _sum_by(idx // n, hidden, n), "by_y": _sum_by(idx % n, hidden, n),
            "by_product": _sum_by(z, hidden, n),
        }  # fmt: skip
        sums = {k: sums[k] + v for k, v in part.items()} if sums else part
    return _Sums(**sums)


def _sum_by(groups_of: Int[Tensor, " batch"], values: Float[Tensor, "batch d"], n: int
            ) -> Float[Tensor, "n d"]:  # fmt: skip
    return torch.zeros(n, values.shape[1], dtype=torch.float64).index_add_(0, groups_of, values)


def _share(basis: Float[Tensor, "n m"], w: Float[Tensor, "n d"]) -> float:
    """The share of ``||w||^2`` in the span of ``basis`` (orthonormal columns) along w's
    first axis."""
    return float((basis.T @ w).pow(2).sum() / w.pow(2).sum())


def _hidden_shares(basis: Float[Tensor, "n m"], sums: _Sums, n: int) -> dict[str, float]:
    """percent_hidden_x/_y/_xy of the centred hidden (module docstring): a function of x
    alone, ``e(x)/sqrt(n)`` over pairs, has coefficient ``e . S_x / sqrt(n)``."""
    pairs = n * n
    mean = sums.hidden / pairs
    total = sums.hidden_norm2 - pairs * mean.pow(2).sum()
    out = {}
    for name, by in (("x", sums.by_x), ("y", sums.by_y), ("xy", sums.by_product)):
        centred = by - n * mean
        out[f"percent_hidden_{name}"] = float((basis.T @ centred).pow(2).sum() / n / total)
    out["percent_hidden"] = sum(out.values())
    return out


def _trace_table(group: Group, chi: Float[Tensor, " n"]) -> Float[Tensor, "n n"]:
    """``chi(w z^-1)`` for product w and class z: the logit trace cube's row for any pair
    whose product is w (``compute_logit_trace_tensor_cube``)."""
    return chi[group.table[:, group.inverse]]


def _similarity(sums: _Sums, cube: Float[Tensor, "n n"], n: int) -> tuple[float, Tensor]:
    """The cosine of the centred logits with the cube, and the cube's component of the
    logits per product (``sim * ||logits|| * cube / ||cube||``, an n x n table)."""
    dot = (sums.logits_by_product * cube).sum()
    cube_norm = (n * cube.pow(2).sum()).sqrt()  # each product row occurs for n pairs
    logits_norm = sums.logits_norm2.sqrt()
    sim = dot / (logits_norm * cube_norm).clamp_min(1e-300)
    return float(sim), sim * logits_norm * cube / cube_norm.clamp_min(1e-300)


def _projected_hidden(basis: Float[Tensor, "n m"], sums: _Sums, w_u: Float[Tensor, "d n"],
                      n: int) -> Float[Tensor, "n n"]:  # fmt: skip
    """Logits (``W_U`` alone) of the hidden's projection on the rho(xy) span, per product:
    ``E E^T S_xy / n`` (module docstring; not centred, as the authors' ablation)."""
    return (basis @ (basis.T @ sums.by_product) / n) @ w_u


def _restricted(table: Float[Tensor, "n n"]) -> float:
    """Cross-entropy over all pairs of logits that depend on the product only: each product
    w is the answer of n pairs, so the mean over rows with label w."""
    return float(F.cross_entropy(table, torch.arange(table.shape[0])))


def _excluded(group: Group, run: PairsFn, pairs: Int[Tensor, " m"], w_u: Float[Tensor, "d n"],
              logit_parts: dict[str, Tensor], hidden_parts: dict[str, Tensor], chunk: int
              ) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Second pass over ``pairs``: the mean cross-entropy of the centred logits minus each
    irrep's logit component, and of ``h W_U`` minus each irrep's projected hidden logits."""
    labels = group.table.reshape(-1)
    totals = {name: [0.0, 0.0] for name in logit_parts}
    parts = {name: (_Part.of(logit_parts[name]), _Part.of(hidden_parts[name]))
             for name in logit_parts}  # fmt: skip
    for idx in _chunks(pairs, chunk):
        logits, hidden = (t.detach().double().cpu() for t in run(idx))
        z = labels[idx]
        centred = logits - logits.mean(-1, keepdim=True)
        hidden_logits = hidden @ w_u
        buf = torch.empty_like(centred)
        shifted = _shifted(centred, z), _shifted(hidden_logits, z)
        for name in logit_parts:
            totals[name][0] += _ce_minus(centred, shifted[0], parts[name][0], z, buf)
            totals[name][1] += _ce_minus(hidden_logits, shifted[1], parts[name][1], z, buf)
    return {name: (a / len(pairs), b / len(pairs)) for name, (a, b) in totals.items()}


def irrep_metrics(
    group: Group,
    W_E_x: Float[Tensor, "n d_x"],
    W_E_y: Float[Tensor, "n d_y"],
    W_U: Float[Tensor, "d_hidden n"],
    run: PairsFn,
    *,
    train: Int[Tensor, " n_train"] | None = None,
    chunk: int = DEFAULT_CHUNK,
    reps: Mapping[str, Float[Tensor, "n _d _d"]] | None = None,
) -> IrrepsResult:
    """The authors' metrics (module docstring) from the tensors of any model: the x and y
    embeddings (n rows), the map from the hidden layer to the n logits (``W_out W_U`` for
    a transformer), and ``run``, which gives logits and hidden activations for pair
    indices (:func:`from_tensors` wraps precomputed ones). ``train``: the pairs the
    excluded losses average over (all pairs if None). ``reps``: the matrix-valued
    functions on G to measure, by name (default ``group.irreps()``; the metrics use only
    the span of their entries and their traces, so any such function can be measured:
    a reducible representation, or a candidate that is not one)."""
    n = group.order
    w_u = W_U.detach().double().cpu()
    embeds = (W_E_x.detach().double().cpu(), W_E_y.detach().double().cpu())
    train_mask = torch.zeros(n * n, dtype=torch.bool)
    train_mask[torch.arange(n * n) if train is None else train] = True
    sums = _first_pass(group, run, train_mask, chunk)
    per, logit_parts, hidden_parts, dims = {}, {}, {}, {}
    for name, rho in (group.irreps() if reps is None else reps).items():
        basis = entry_basis(rho)
        sim, logit_parts[name] = _similarity(sums, _trace_table(group, character(rho)), n)
        hidden_parts[name] = _projected_hidden(basis, sums, w_u, n)
        dims[name] = int(rho.shape[-1])
        per[name] = {
            "percent_x_embed": _share(basis, embeds[0]),
            "percent_y_embed": _share(basis, embeds[1]),
            "percent_unembed": _share(basis, w_u.T), **_hidden_shares(basis, sums, n),
            "logit_trace_similarity": sim,
            "logit_restricted_loss": _restricted(logit_parts[name]),
            "hidden_restricted_loss": _restricted(hidden_parts[name]),
        }  # fmt: skip
    sims = {k: v["logit_trace_similarity"] for k, v in per.items() if k != "trivial"}
    key = tuple(k for k, sim in sims.items() if sim > KEY_THRESHOLD)
    zero = torch.zeros(n, n, dtype=torch.float64)
    logit_parts["key"] = sum((logit_parts[k] for k in key), zero)
    hidden_parts["key"] = sum((hidden_parts[k] for k in key), zero)
    pairs = train_mask.nonzero()[:, 0]
    excluded = _excluded(group, run, pairs, w_u, logit_parts, hidden_parts, chunk)
    for name in per:
        per[name]["logit_excluded_loss"], per[name]["hidden_excluded_loss"] = excluded[name]
    per = {name: {m: vals[m] for m in METRICS} for name, vals in per.items()}
    totals = _totals(per, key, excluded["key"], logit_parts["key"], hidden_parts["key"])
    totals |= _split_losses(sums, train, n)
    return IrrepsResult(group=group.name, key=key, per_irrep=per, dims=dims,
                        loss=float(sums.loss) / n**2, accuracy=float(sums.correct) / n**2,
                        totals=totals, n_excluded_pairs=len(pairs))  # fmt: skip


def _totals(per: dict[str, dict[str, float]], key: tuple[str, ...], excluded: tuple[float, float],
            logit_key: Tensor, hidden_key: Tensor) -> dict[str, float]:  # fmt: skip
    """The authors' totals over the key irreps (``get_metrics``)."""
    out = {f"{m}_explained": float(sum(per[k][m] for k in key)) for m in
           ("percent_x_embed", "percent_y_embed", "percent_unembed", "percent_hidden",
            "percent_hidden_xy")}  # fmt: skip
    out["percent_logits_explained"] = float(sum(
        v["logit_trace_similarity"] ** 2 for k, v in per.items() if k != "trivial"
    ))
    out["total_logit_excluded_loss"], out["total_hidden_excluded_loss"] = excluded
    out["total_logit_restricted_loss"] = _restricted(logit_key)
    out["total_hidden_restricted_loss"] = _restricted(hidden_key)
    return out


def _split_losses(sums: _Sums, train: Tensor | None, n: int) -> dict[str, float]:
    if train is None:
        return {}
    n_train = len(train)
    test = n * n - n_train
    out = {"train_loss": float(sums.train_loss) / n_train}
    if test:
        out["test_loss"] = float(sums.loss - sums.train_loss) / test
    return out


# ---- a TransformerLens model -------------------------------------------------------------


def _pair_tokens(idx: Int[Tensor, " batch"], n: int, template: tuple[int, ...], x_pos: int,
                 y_pos: int) -> Int[Tensor, "batch pos"]:  # fmt: skip
    tokens = torch.tensor(template).repeat(len(idx), 1)
    tokens[:, x_pos] = idx // n
    tokens[:, y_pos] = idx % n
    return tokens


def model_pairs(model: Model, n: int, *, x_pos: int = 0, y_pos: int = 1, answer_pos: int = -1,
                template: tuple[int, ...] | None = None) -> PairsFn:  # fmt: skip
    """A :data:`PairsFn` that runs ``model`` on the token sequences of pairs: x at
    ``x_pos``, y at ``y_pos``, every other position ``template``'s token (default: token
    n, the ``=`` of the ``x y =`` layout); logits (first n classes) and the last layer's
    MLP post-activations at ``answer_pos``."""
    cfg = model.cfg
    template = template or (n,) * cfg.n_ctx
    post = f"blocks.{cfg.n_layers - 1}.mlp.hook_post"
    device = next(model.parameters()).device

    def run(idx: Int[Tensor, " batch"]) -> tuple[Tensor, Tensor]:
        tokens = _pair_tokens(idx, n, template, x_pos, y_pos).to(device)
        with torch.no_grad():
            out, cache = model.run_with_cache(tokens, names_filter=post)
        logits = out if isinstance(out, Tensor) else out[0]
        return logits[:, answer_pos, :n], cache[post][:, answer_pos]

    return run


def _check_model(model: Model, group: Group, d_vocab_out: int | None) -> None:
    cfg = model.cfg
    n = group.order
    out = cfg.d_vocab_out if d_vocab_out is None else d_vocab_out
    if cfg.attn_only:
        raise ValueError("irreps reads the MLP's hidden layer; this model is attention-only")
    if cfg.d_vocab < n or out < n or model.W_U.shape[-1] < n:
        raise ValueError(f"{group.name} has {n} elements but the model has {cfg.d_vocab} input "
                         f"tokens and {out} output classes")  # fmt: skip


@torch.no_grad()
def irreps(
    model: Model,
    group: Group,
    *,
    x_pos: int = 0,
    y_pos: int = 1,
    answer_pos: int = -1,
    d_vocab_out: int | None = None,
    template: tuple[int, ...] | None = None,
    train: Int[Tensor, " n_train"] | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> IrrepsResult:
    """:func:`irrep_metrics` of a TransformerLens transformer on ``group`` (module
    docstring): element i is token i and output class i; W_E rows 0 .. n-1 embed both x
    and y, ``W_out W_U[:, :n]`` of the last layer is the unembedding, and the hidden layer
    is the last layer's MLP at ``answer_pos``, read chunk by chunk. ``d_vocab_out``: the
    number of output classes the model has (default its config's); the metrics read the
    first n. ``train``: pair indices (x n + y) of the train set, for the excluded losses
    and the train/test losses."""
    _check_model(model, group, d_vocab_out)
    n = group.order
    w_e = model.W_E[:n]
    w_l = model.blocks[model.cfg.n_layers - 1].mlp.W_out @ model.W_U[:, :n]
    run = model_pairs(model, n, x_pos=x_pos, y_pos=y_pos, answer_pos=answer_pos, template=template)
    return irrep_metrics(group, w_e, w_e, w_l, run, train=train, chunk=chunk)


@torch.no_grad()
def task_irreps(model: Model, task: Any, *, group: Group | None = None,
                train: Int[Tensor, " n_train"] | None = None) -> IrrepsResult:  # fmt: skip
    """:func:`irreps` of ``model`` on a pair task: its group (C_p for Z_p, or ``group``
    where the caller has built it), read at the layout's operand and answer positions;
    an AnalysisError in one line where the layout or the model does not allow it."""
    lay = task.layout
    if not lay.shared_vocab:
        raise AnalysisError("irreps: reads one embedding for both operands; this layout "
                            "gives b its own vocabulary")  # fmt: skip
    if model.cfg.attn_only:
        raise AnalysisError("irreps: reads the MLP's hidden layer; this model has no MLP")
    return irreps(model, group or task.as_group(), x_pos=lay.a_pos, y_pos=lay.b_pos,
                  answer_pos=task.answer_pos, template=tuple(task.tokens()[0].tolist()),
                  train=train)  # fmt: skip


# ---- over training -----------------------------------------------------------------------


@torch.no_grad()
def irreps_over_training(run: Any, *, steps: list[int] | None = None,
                         max_steps: int = 40) -> pd.DataFrame:  # fmt: skip
    """Chughtai et al.'s progress measures: :func:`irreps` of a Run of a group task at each
    snapshot (``steps``, or at most ``max_steps`` spread evenly, the last included), one row
    per snapshot and irrep with its logit trace similarity, excluded and restricted losses
    and embedding share, and the run's train and test loss then (from its history)."""
    from grok_interp.analyses.common import history_at
    from grok_interp.runs import model_from_run

    task = run.pairs_task
    snaps = sorted(run.snapshots)
    if not snaps:
        raise ValueError("irreps over training: the Run holds no snapshots")
    if steps is None:
        stride = max(1, -(-len(snaps) // max_steps))
        steps = snaps[::stride] + ([] if (len(snaps) - 1) % stride == 0 else [snaps[-1]])
    group, rows = task.as_group(), []
    for step in steps:
        res = task_irreps(model_from_run(run, step), task, group=group, train=run.train_idx)
        losses = history_at(run.history, step, ("train_loss", "test_loss"))
        for name, vals in res.per_irrep.items():
            rows.append({"epoch": step, "irrep": name, "key": name in res.key,
                         **{k: vals[k] for k in ("logit_trace_similarity", "logit_excluded_loss",
                                                 "logit_restricted_loss", "percent_x_embed")},
                         **losses})  # fmt: skip
    return pd.DataFrame(rows)


def learning_order(frame: pd.DataFrame, levels: tuple[float, ...] = (0.5, 0.9)) -> pd.DataFrame:
    """The order the final key irreps are learnt in: for each, the first snapshot where its
    logit trace similarity reaches each of ``levels`` of its final value (and where it
    first exceeds the key threshold), ordered by the last level, then the first. Several
    levels, because irreps that all pass half their final similarity within the first
    snapshots may reach their plateau thousands of epochs apart."""
    last = frame[frame["epoch"] == frame["epoch"].max()]
    rows = []
    for name in last[last["key"]]["irrep"]:
        one = frame[frame["irrep"] == name].sort_values("epoch")
        sim, epochs = one["logit_trace_similarity"].to_numpy(), one["epoch"].to_numpy()
        row: dict[str, Any] = {"irrep": name, "final similarity": sim[-1]}
        for level in levels:
            row[f"epoch at {level:.0%} of final"] = int(epochs[sim >= level * sim[-1]][0])
        row[f"epoch above {KEY_THRESHOLD}"] = int(epochs[sim > KEY_THRESHOLD][0])
        rows.append(row)
    out = pd.DataFrame(rows)
    by = [f"epoch at {level:.0%} of final" for level in levels[::-1]]
    return out.sort_values(by, kind="stable") if len(out) else out


def over_training_figure(frame: pd.DataFrame, title: str,
                         bounds: tuple[int, int, int] | None = None) -> go.Figure:  # fmt: skip
    """Each irrep's logit trace similarity (top) and the run's losses (bottom) against the
    epoch, the key irreps drawn solid and the others faint; ``bounds``: the run's phase
    boundaries (:func:`grok_interp.analyses.progress.phases` of its history), dotted in
    both panels and named in the top one."""
    from plotly.subplots import make_subplots

    from grok_interp.analyses.progress import PHASE_NAMES, phase_label

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("logit trace similarity per irrep", "loss"))  # fmt: skip
    last = frame[frame["epoch"] == frame["epoch"].max()]
    key = set(last[last["key"]]["irrep"])
    for name, one in frame.groupby("irrep", sort=False):
        fig.add_scatter(x=one["epoch"], y=one["logit_trace_similarity"], name=str(name),
                        mode="lines", opacity=1.0 if name in key else 0.35,
                        line={"width": 3 if name in key else 1}, row=1, col=1)  # fmt: skip
    per_epoch = frame.drop_duplicates("epoch")
    for col, dash in (("train_loss", "dot"), ("test_loss", "solid")):
        known = per_epoch[per_epoch[col].notna()]  # a snapshot between evaluations has none
        fig.add_scatter(x=known["epoch"], y=known[col], name=col.replace("_", " "),
                        mode="lines", line={"dash": dash, "color": "black"},
                        row=2, col=1)  # fmt: skip
    for b, label in zip(bounds or (), PHASE_NAMES, strict=False):
        for row in (1, 2):
            fig.add_vline(x=b, line_dash="dot", line_color="grey", row=row, col=1,  # type: ignore[arg-type]
                          **phase_label(f"{label} ({b})" if row == 1 else None))
    fig.update_yaxes(type="log", title_text="cross-entropy", row=2, col=1)
    fig.update_yaxes(title_text="cosine", row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=2, col=1)
    fig.update_layout(title=title, height=700, legend_title_text="irrep / loss")
    return fig
