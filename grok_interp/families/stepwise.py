"""A family whose members step one by one through their own forward: it says only what a
step's batches are, its loss and what an evaluation records; the loop is
:class:`grok_interp.engine.StepLoop` (streaming parity, the sequence tasks, a family of a
few lines)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import Any

import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from grok_interp.engine import StepLoop, TrainOptions, member, run_epochs
from grok_interp.families.base import Family
from grok_interp.runs import Run

# One optimizer step's (inputs, targets): of any kind in a family of its own (a float
# input, a float target), token sequences in those on sequences.
Batch = tuple[Shaped[Tensor, "batch *input"], Shaped[Tensor, "batch *target"]]
TokenBatch = tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]


class StepwiseFamily(Family, abstract=True):
    """A family whose members step one by one through their own forward
    (:class:`grok_interp.engine.StepLoop`): it says what a step's batches are, its loss
    and what an evaluation records."""

    @abstractmethod
    def batches(self, run: Run, epoch: int) -> Iterable[Batch]:
        """The (inputs, targets) of each optimizer step of ``epoch``."""

    @abstractmethod
    def loss(self, model: Any, inputs: Shaped[Tensor, "batch *input"],
             targets: Shaped[Tensor, "batch *target"]) -> Float[Tensor, ""]:  # fmt: skip
        """The loss the optimizer minimises on one batch."""

    @abstractmethod
    def evaluate(self, model: Any, run: Run, epoch: int,
                 device: torch.device) -> dict[str, float]:  # fmt: skip
        """The numbers recorded at an evaluation: at least train_loss, train_acc,
        test_loss and test_acc."""

    def train(self, members: list[tuple[Run, Any]], device: torch.device,
              options: TrainOptions) -> None:  # fmt: skip
        ms = [member(r, out, device) for r, out in members]
        every = options.save_every or members[0][0].train.snapshot_every
        run_epochs(StepLoop(self, ms, device, options.callbacks), options.progress, every)
