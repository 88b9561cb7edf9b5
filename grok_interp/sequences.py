"""Sequence tasks with per-position targets, with infinite or limited data (Nanda et al.
2023, Appendix D.3, "Limited data is necessary for grokking", Figures 29-34).

Three tasks, each a :class:`SeqTask` (``kind``); a target of -100 marks a position
without one. Where the appendix is silent, the choices below are ours.

- ``five_digit_add``: two uniform numbers in 0..99999 (five digits, leading zeros
  allowed), the tokens ``a4..a0 + b4..b0 = s5..s1`` (most significant digit first; ``+`` is
  token 10, ``=`` 11), and the six digits of the sum as targets at the ``=`` and the
  first five sum positions: 17 positions, vocabulary 12. A 1-layer full transformer.
- ``repeat``: ``length`` (24) uniform tokens over ``vocab`` (20) in which a span of
  ``span`` (6) tokens starting at i is repeated at j >= i + span; the targets are the
  repeated tokens after the first of the repeat (at positions j..j+span-2 the next token),
  which an induction circuit predicts and nothing else can. A 2-layer attention-only
  transformer.
- ``skip_trigram``: ``length`` (10) tokens uniform over 0..9 except exactly one, at a
  uniform position, uniform over 10..19; the target at the last position is that token.
  A 1-layer attention-only transformer. The appendix fixes neither the length nor where
  the big token may sit: ``big_at="any"`` (the default) lets it sit at the last position
  too, where the answer is the current token; ``"before_last"`` keeps it off the last
  position, so every target needs attention to an earlier position.

Data (:func:`training_set`, :func:`test_set`, :func:`fresh_batch`): the limited regime
trains on a fixed set of ``n_train`` sequences drawn from a generator seeded by the run's
seed (the appendix: 700 for five-digit addition, 512 for the others); the infinite
regime (``TrainConfig.fresh_data``) draws a fresh batch of ``n_train`` sequences every
step from a generator seeded by (seed, step), so a resumed run sees the very batches an
uninterrupted one would, and ends with the same weights bit for bit (tested on 2
threads: the trainer steps these models under torch's deterministic algorithms, since the
embedding lookup's multi-threaded backward otherwise sums in thread order). The
test set is ``n_test`` sequences from a third stream.
Duplicates between the sets are possible and left in (five-digit addition has 1e10 pairs).

**The accuracy ceiling** (:func:`bayes_accuracy`, :func:`accuracy_ceiling`; ours, the
appendix reports losses only). The appendix trains on "the repeated tokens" and scores every
one of them, and so do we: the loss and accuracy read every position with a target. On
five-digit addition and skip trigrams each target is a function of the tokens up to its
position, so the best possible accuracy is 1. On ``repeat`` it is not: at the first token
of the repeat (t = j) the target is the token after the span's first occurrence, but the
span's start i is not in the input, and every earlier copy of the current token at a
position the generator could have chosen is a candidate (with vocabulary 20 and length 24
the Bayes-optimal predictor is right there about 87% of the time, later in the repeat
almost always). :func:`bayes_accuracy` computes, from the generator's own distribution of
(i, j) and of the tokens, the probability that the Bayes-optimal predictor (the argmax of
P(target | tokens up to t, t carries a target), which is what cross-entropy on the
positions with a target trains towards) is right at each position; its mean over a test
set's positions with a target is that set's ceiling (0.9739 on the seed-0 test set of the
default ``repeat``). Scoring only the predictable positions would change the appendix's
loss, so we keep the loss and report accuracy against the ceiling instead: a run has
*generalised* when its test accuracy reaches 99% of the ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from grok_interp.losses import IGNORE

Kind = Literal["five_digit_add", "repeat", "skip_trigram"]
KINDS: tuple[str, ...] = ("five_digit_add", "repeat", "skip_trigram")
BIG_AT: tuple[str, ...] = ("any", "before_last")
PLUS, EQ = 10, 11


@dataclass(frozen=True, kw_only=True)
class SeqTask:
    """A sequence task of Appendix D.3 (module docstring); ``vocab`` and ``span`` apply to
    ``repeat``, ``length`` to ``repeat`` (default 24) and ``skip_trigram`` (default 10),
    ``big_at`` (``"any"`` or ``"before_last"``) to ``skip_trigram``."""

    kind: str = "five_digit_add"  # one of KINDS (checked: a clear error, not a type error)
    length: int | None = None
    vocab: int = 20
    span: int = 6
    n_test: int = 1000
    big_at: str = "any"  # one of BIG_AT

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown sequence task {self.kind!r}; known: {', '.join(KINDS)}")
        if self.kind == "repeat" and not (2 <= self.span and 2 * self.span <= self.seq_len):
            raise ValueError(f"repeat needs 2 <= span and 2 span <= length; got span "
                             f"{self.span}, length {self.seq_len}")  # fmt: skip
        if self.kind == "skip_trigram" and self.seq_len < 2:
            raise ValueError("skip_trigram needs a length of at least 2")
        if self.big_at not in BIG_AT:
            raise ValueError(f"big_at must be one of {', '.join(BIG_AT)}; got {self.big_at!r}")
        if self.vocab < 2 or self.n_test < 1:
            raise ValueError("vocab must be >= 2 and n_test >= 1")

    @property
    def seq_len(self) -> int:
        if self.length is not None:
            return self.length
        return {"five_digit_add": 17, "repeat": 24, "skip_trigram": 10}[self.kind]

    @property
    def n_ctx(self) -> int:
        return 17 if self.kind == "five_digit_add" else self.seq_len

    @property
    def d_vocab(self) -> int:
        return {"five_digit_add": 12, "repeat": self.vocab, "skip_trigram": 20}[self.kind]

    @property
    def d_vocab_out(self) -> int:
        return self.d_vocab

    @property
    def p(self) -> int:  # what code written for Task reads as the number of symbols
        return self.d_vocab

    @property
    def output_positions(self) -> list[int]:
        """The positions that always carry a target (five-digit addition: one per sum
        digit; skip trigram: the last); ``repeat``'s vary per sequence."""
        if self.kind == "five_digit_add":
            return list(range(11, 17))
        return [self.n_ctx - 1] if self.kind == "skip_trigram" else []

    def describe(self) -> str:
        if self.kind == "five_digit_add":
            return "five-digit addition (Nanda et al. 2023, App. D.3)"
        if self.kind == "repeat":
            return (f"repeated subsequence, length {self.seq_len}, vocabulary {self.vocab}, "
                    f"span {self.span} (App. D.3)")  # fmt: skip
        where = ", the big token before the last position" if self.big_at != "any" else ""
        return f"skip trigram, length {self.seq_len}{where} (App. D.3)"

    def sample(self, n: int, gen: torch.Generator
               ) -> tuple[Int[Tensor, "n pos"], Int[Tensor, "n pos"]]:  # fmt: skip
        """``n`` sequences and their targets (IGNORE where none), from ``gen``."""
        return _SAMPLERS[self.kind](self, n, gen)[:2]


def _digits(x: Tensor, k: int) -> Tensor:
    powers = 10 ** torch.arange(k - 1, -1, -1)
    return x[:, None] // powers % 10


def _five_digit(task: SeqTask, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    a, b = torch.randint(0, 100_000, (2, n), generator=gen)
    s = _digits(a + b, 6)
    col = torch.full((n, 1), PLUS), torch.full((n, 1), EQ)
    tokens = torch.cat([_digits(a, 5), col[0], _digits(b, 5), col[1], s[:, :5]], dim=1)
    targets = torch.full_like(tokens, IGNORE)
    targets[:, 11:17] = s
    return tokens, targets, torch.stack([a, b], dim=1)


def _repeat(task: SeqTask, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    L, k = task.seq_len, task.span
    tokens = torch.randint(0, task.vocab, (n, L), generator=gen)
    i = (torch.rand(n, generator=gen) * (L - 2 * k + 1)).long()
    j = i + k + (torch.rand(n, generator=gen) * (L - k - (i + k) + 1)).long()
    rows = torch.arange(n)[:, None]
    offs = torch.arange(k)
    tokens[rows, j[:, None] + offs] = tokens[rows, i[:, None] + offs]
    targets = torch.full_like(tokens, IGNORE)
    at = j[:, None] + offs[:-1]
    targets[rows, at] = tokens[rows, at + 1]
    return tokens, targets, torch.stack([i, j], dim=1)


def _skip(task: SeqTask, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    tokens = torch.randint(0, 10, (n, task.seq_len), generator=gen)
    where = torch.randint(0, task.seq_len - (task.big_at == "before_last"), (n,), generator=gen)
    big = torch.randint(10, 20, (n,), generator=gen)
    tokens[torch.arange(n), where] = big
    targets = torch.full_like(tokens, IGNORE)
    targets[:, -1] = big
    return tokens, targets, where[:, None]


_SAMPLERS = {"five_digit_add": _five_digit, "repeat": _repeat, "skip_trigram": _skip}


def sample_with_meta(task: SeqTask, n: int, seed: int) -> tuple[
        Int[Tensor, "n pos"], Int[Tensor, "n pos"], Int[Tensor, "n meta"]]:  # fmt: skip
    """Sequences, targets and where the structure is: the operands (five-digit
    addition), the starts (i, j) of the span and its repeat, or the big token's position."""
    return _SAMPLERS[task.kind](task, n, torch.Generator().manual_seed(seed))


def _gen(*key: int) -> torch.Generator:
    seed = 0
    for k in key:
        seed = (seed * 1_000_003 + k + 1) % (1 << 62)
    return torch.Generator().manual_seed(seed)


def training_set(task: SeqTask, n: int,
                 seed: int) -> tuple[Int[Tensor, "n pos"], Int[Tensor, "n pos"]]:  # fmt: skip
    return task.sample(n, _gen(1, seed))


def test_set(task: SeqTask, seed: int) -> tuple[Int[Tensor, "n pos"], Int[Tensor, "n pos"]]:
    return task.sample(task.n_test, _gen(2, seed))


def fresh_batch(task: SeqTask, n: int, seed: int,
                step: int) -> tuple[Int[Tensor, "n pos"], Int[Tensor, "n pos"]]:  # fmt: skip
    """The infinite regime's batch at ``step``: a function of (seed, step) only."""
    return task.sample(n, _gen(3, seed, step))


def bayes_accuracy(task: SeqTask, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos"]:
    """Per sequence and position t, the probability that the Bayes-optimal prediction at t
    is right, given the tokens up to t and that t carries a target (module docstring); 1
    everywhere for tasks whose targets are functions of the prefix, NaN on ``repeat`` at
    positions no (i, j) of the generator could give a target."""
    if task.kind != "repeat":
        return torch.ones(tokens.shape, dtype=torch.float64)
    post = _repeat_posterior(task, tokens)
    total = post.sum(-1)
    return torch.where(total > 0, post.max(-1).values / total, torch.nan)


def _repeat_posterior(task: SeqTask, tokens: Tensor) -> Tensor:
    """(batch, pos, vocab) unnormalised P(target = y, t carries a target | tokens up to t),
    summed over the generator's (i, j): i uniform on 0..L-2k, then j uniform on
    i+k..L-k (:func:`_repeat`, up to torch.rand's 2^-24 grid). Given (i, j), the tokens
    up to t = j + o are uniform except the o + 1 copied ones, and the target is the
    (known) token at i + o + 1."""
    (n, L), k, v = tokens.shape, task.span, task.vocab
    if L != task.seq_len:
        raise ValueError(f"tokens have length {L}; this task's sequences have {task.seq_len}")
    post = torch.zeros(n, L, v, dtype=torch.float64)
    rows = torch.arange(n)
    n_i = L - 2 * k + 1
    for i in range(n_i):
        n_j = L - 2 * k - i + 1
        for j in range(i + k, L - k + 1):
            prior = 1.0 / (n_i * n_j)
            for o in range(k - 1):
                t = j + o
                same = (tokens[:, j : t + 1] == tokens[:, i : i + o + 1]).all(1)
                post[rows, t, tokens[:, i + o + 1]] += same * (prior * float(v) ** (o - t))
    return post


def accuracy_ceiling(task: SeqTask, seed: int) -> float:
    """The best possible test accuracy of a run with this seed: the mean of
    :func:`bayes_accuracy` over the test set's positions with a target (module docstring)."""
    tokens, targets = test_set(task, seed)
    return float(bayes_accuracy(task, tokens)[targets != IGNORE].mean())
