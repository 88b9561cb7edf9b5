"""What an analysis may ask of a task or a learner: capabilities as Protocols.

A guard asks whether its task or learner has the capability it needs (``isinstance``
against a runtime-checkable Protocol), never which family the run belongs to, so a task
or learner defined elsewhere (a test's, a user's) is analysed by what it can do
(docs/DESIGN.md, "Layers"; the analysis catalog, :mod:`grok_interp.analyses.catalog`,
states each analysis's needs with these).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from jaxtyping import Float, Int
from torch import Tensor


@runtime_checkable
class OnPairs(Protocol):
    """A task on pairs (a, b) of a structure's ``p`` elements, written as tokens by a
    layout (:class:`grok_interp.tasks.Task`)."""

    p: int

    def pairs(self) -> Int[Tensor, "pairs 2"]: ...

    def labels(self) -> Int[Tensor, " pairs"]: ...

    def tokens(self) -> Int[Tensor, "pairs pos"]: ...


@runtime_checkable
class StreamingStrings(Protocol):
    """A task on binary strings read one symbol at a time, whose prefixes form a tree
    (streaming parity, :class:`grok_interp.streaming.ParityTask`)."""

    max_len: int
    val_len: int
    long_lens: tuple[int, ...]


@runtime_checkable
class TokenSequences(Protocol):
    """A task on token sequences with targets at some positions (the App. D.3 tasks,
    :class:`grok_interp.sequences.SeqTask`)."""

    kind: str
    n_test: int


@runtime_checkable
class Transformer(Protocol):
    """A TransformerLens transformer: a config, hooks, a cache (a HookedTransformer or a
    TransformerBridge, :mod:`grok_interp.tl`)."""

    cfg: Any

    def run_with_cache(self, *args: Any, **kwargs: Any) -> Any: ...

    def run_with_hooks(self, *args: Any, **kwargs: Any) -> Any: ...


@runtime_checkable
class Recurrent(Protocol):
    """A recurrent learner, whose states the automaton reads
    (:class:`grok_interp.families.parity.HookedRNN`): its initial state, its state after
    each position, and the read-out of a state."""

    readout: Callable[[Tensor], Tensor]

    def initial_state(self, batch: int) -> Float[Tensor, "batch d_hidden"]: ...

    def hidden(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_hidden"]: ...


@runtime_checkable
class Embeds(Protocol):
    """A learner of pairs whose input representation is a table of embeddings read
    directly (Liu et al.'s toy model, :class:`grok_interp.families.toy.ToyModel`)."""

    task: Any
    spec: Any
    embed: Tensor
