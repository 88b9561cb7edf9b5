"""Token layouts: how a pair (a, b) is written as tokens, and where the answer is read.

A layout is one of a task's three parts (docs/DESIGN.md, "A task is three parts"): the
slots in position order (``a`` and ``b`` the operands, ``o`` an operator token, ``=`` an
equals token), the position the answer is read at, whether attention is causal, and
whether the operands share one vocabulary. It is written as a string, so a Run file,
the CLI and a sweep field hold it as text and a user states a new one without code:

- ``"a b ="`` (Nanda et al. 2023, Section 3): ``[a, b, =]``, ``=`` is token ``n``;
- ``"a o b ="`` (Power et al. 2022; Varma et al. 2023): ``[a, o, b, =]``, ``o`` is token
  ``n`` and ``=`` is ``n + 1``;
- ``"a b"`` (Zhong et al. 2023, ``code/train-main.py``): ``[a, b]``, answer at ``b``;

each optionally followed by ``", bidirectional"`` (attention without a causal mask, as in
Zhong et al.'s models, whose registered mask is never applied), ``", separate vocab"``
(``b`` is token ``n + b``: Zhong et al.'s ``diff_vocab``), ``", answer at K"`` (read the
answer at position K rather than the last). Token ids: ``a`` is ``a``; ``b`` is ``b`` (or
``n + b``); the extra tokens follow the operands' vocabulary in the order they appear.
Any order of the slots is a layout (``"b a ="`` reads b first); each of ``a`` and ``b``
appears once, an extra token at most once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads when tokens are made, so the CLI checks a layout at once
    from jaxtyping import Int
    from torch import Tensor

OPERANDS = ("a", "b")
EXTRAS = ("o", "=")
FLAGS = {"bidirectional": ("causal", False), "separate vocab": ("shared_vocab", False)}
# The layouts the package trains by default and the CLI offers by name.
KNOWN = ("a b =", "a o b =", "a b", "a b, bidirectional", "a b, bidirectional, separate vocab")


class LayoutError(ValueError):
    """A layout string that does not describe one."""


@dataclass(frozen=True, kw_only=True)
class Layout:
    """A token layout (module docstring); build one with :func:`layout`."""

    slots: tuple[str, ...]
    answer: int = -1
    causal: bool = True
    shared_vocab: bool = True

    @property
    def name(self) -> str:
        """The layout as its string (the form a task and a Run file hold)."""
        parts = [" ".join(self.slots)]
        parts += [] if self.causal else ["bidirectional"]
        parts += [] if self.shared_vocab else ["separate vocab"]
        parts += [] if self.answer in (-1, self.n_ctx - 1) else [f"answer at {self.answer}"]
        return ", ".join(parts)

    @property
    def n_ctx(self) -> int:
        return len(self.slots)

    @property
    def answer_pos(self) -> int:
        """The position the answer is read at, as a non-negative index."""
        return self.answer % self.n_ctx

    @property
    def a_pos(self) -> int:
        return self.slots.index("a")

    @property
    def b_pos(self) -> int:
        return self.slots.index("b")

    @property
    def extras(self) -> tuple[str, ...]:
        return tuple(s for s in self.slots if s in EXTRAS)

    def operand_vocab(self, n: int) -> int:
        """Tokens the operands take: ``n`` shared, ``2n`` with separate vocabularies."""
        return n if self.shared_vocab else 2 * n

    def d_vocab(self, n: int) -> int:
        return self.operand_vocab(n) + len(self.extras)

    def token(self, slot: str, n: int) -> int:
        """The token id of an extra slot (``"o"`` or ``"="``) over ``n`` elements."""
        return self.operand_vocab(n) + self.extras.index(slot)

    def operand_tokens(self, slot: str, n: int) -> Int[Tensor, " n"]:
        """The token ids of the operand ``slot``'s ``n`` elements (its embedding rows)."""
        import torch

        start = n if slot == "b" and not self.shared_vocab else 0
        return torch.arange(start, start + n)

    def tokens(self, ab: Int[Tensor, "pairs 2"], n: int) -> Int[Tensor, "pairs n_ctx"]:
        """The token sequences of the pairs ``ab`` over ``n`` elements."""
        import torch

        cols = []
        for slot in self.slots:
            if slot in OPERANDS:
                col = ab[:, OPERANDS.index(slot)]
                cols.append(col + (n if slot == "b" and not self.shared_vocab else 0))
            else:
                cols.append(torch.full((ab.shape[0],), self.token(slot, n), dtype=torch.long))
        return torch.stack(cols, dim=1)


@functools.lru_cache(maxsize=64)
def layout(spec: str) -> Layout:
    """The layout a string describes (module docstring), or a one-line LayoutError."""
    if not isinstance(spec, str):
        raise LayoutError(f"a token layout is a string such as 'a b =', got {spec!r}")
    head, *flags = [s.strip() for s in spec.split(",")]
    slots = tuple(head.split())
    bad = [s for s in slots if s not in OPERANDS + EXTRAS]
    if bad or sorted(s for s in slots if s in OPERANDS) != ["a", "b"] \
            or len(set(slots)) != len(slots):  # fmt: skip
        raise LayoutError(
            f"unknown token layout {spec!r}: slots are a, b (once each), o and = (at most "
            f"once), e.g. {', '.join(repr(k) for k in KNOWN)}"
        )
    kw: dict[str, object] = {}
    for flag in flags:
        if flag in FLAGS:
            kw[FLAGS[flag][0]] = FLAGS[flag][1]
        elif flag.startswith("answer at ") and flag[10:].strip().lstrip("-").isdigit():
            kw["answer"] = int(flag[10:])
        else:
            raise LayoutError(f"unknown layout option {flag!r} in {spec!r}: use "
                              "'bidirectional', 'separate vocab' or 'answer at K'")  # fmt: skip
    out = Layout(slots=slots, **kw)  # type: ignore[arg-type]
    if not -out.n_ctx <= out.answer < out.n_ctx:
        raise LayoutError(f"{spec!r}: the answer position lies outside its {out.n_ctx} tokens")
    return out
