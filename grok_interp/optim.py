"""Gradient transforms from the newer work on grokking, as their authors' code defines them
(the papers' texts are not at hand), each with a ``state_dict`` so a run resumes bit for
bit.

- **⊥Grad** (Prieto, Barsbey, Mediano and Birdal 2025; LucasPrietoAl/grokking-at-the-edge-
  of-numerical-stability, ``orthograd.py``: ``OrthoGrad``): before the wrapped optimizer's
  step, each parameter tensor's gradient ``g`` loses its component along the tensor ``w``,
  ``g_perp = g - (w.g / (w.w + 1e-30)) w``, and is rescaled to ``g``'s norm,
  ``g_perp * |g| / (|g_perp| + 1e-30)``. The authors wrap ``torch.optim.SGD`` or
  ``AdamW``.
- **Naive-loss-minimisation alignment** (same paper): past 100% training accuracy the
  loss falls fastest by scaling the logits (the NLM direction), which for a positively
  homogeneous network is scaling the weights along their current direction. The authors'
  released code does not log this measure; here it is the cosine between the descent
  direction ``-grad`` and the parameters ``w``, over all trainable parameters
  concatenated (the direction ⊥Grad removes, tensor by tensor). For a model with biases or
  attention (not homogeneous) the weight direction is the paper's proxy for NLM.
- **Grokfast-EMA** (Lee et al. 2024; ironjr/grokfast, ``grokfast.py``:
  ``gradfilter_ema``): per parameter an exponential moving average of its gradients,
  ``ema = alpha ema + (1 - alpha) g`` (started at the first gradient), and the gradient
  ``g + lamb ema`` handed to the optimizer. Defaults alpha 0.99, lamb 5 are those of
  their ``main.py`` and README (the function's own defaults are 0.98 and 2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from jaxtyping import Float, Shaped
from torch import Tensor, nn


class OrthoGrad(torch.optim.Optimizer):
    """⊥Grad around ``base`` (``torch.optim.AdamW`` or ``torch.optim.SGD``, given its
    keyword arguments); see the module docstring. ``state_dict`` is the wrapped
    optimizer's, so a run saved and reloaded steps exactly as one never interrupted."""

    def __init__(
        self,
        params: Iterable[Any],
        base: type[torch.optim.Optimizer] = torch.optim.AdamW,
        **base_kwargs: Any,
    ) -> None:
        super().__init__(params, {})
        self.base = base(self.param_groups, **base_kwargs)  # shares our param groups

    @staticmethod
    @torch.no_grad()
    def project(p: Float[Tensor, "..."]) -> None:
        """Replace ``p.grad`` by its part orthogonal to ``p``, rescaled to its norm."""
        assert p.grad is not None
        w, g = p.reshape(-1), p.grad.reshape(-1)
        g_perp = g - torch.dot(w, g) / (torch.dot(w, w) + 1e-30) * w
        p.grad.copy_((g_perp * (g.norm() / (g_perp.norm() + 1e-30))).view_as(p.grad))

    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.project(p)
        self.base.step()
        return loss

    def state_dict(self) -> dict[str, Any]:
        return self.base.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.base.load_state_dict(state_dict)
        # torch rebuilds the group dicts on load: share them again, for LR schedulers
        self.param_groups = self.base.param_groups


class GrokfastEMA:
    """Grokfast's EMA gradient filter (module docstring): call it on the model between
    ``loss.backward()`` and ``optimizer.step()``."""

    def __init__(self, alpha: float = 0.99, lamb: float = 5.0) -> None:
        if not 0 <= alpha < 1 or lamb < 0:
            raise ValueError(f"Grokfast needs 0 <= alpha < 1 and lamb >= 0; got {alpha}, {lamb}")
        self.alpha, self.lamb = alpha, lamb
        self.ema: dict[str, Tensor] = {}

    def __call__(self, model: nn.Module) -> None:
        self.filter(model.named_parameters())

    @torch.no_grad()
    def filter(self, named: Iterable[tuple[str, Shaped[Tensor, "..."]]]) -> None:
        """Filter the gradients of the named parameters (names key the EMA state)."""
        for name, p in named:
            if not p.requires_grad or p.grad is None:
                continue
            g = p.grad.detach()
            ema = self.ema.get(name, g).to(g)  # a state loaded on another device
            self.ema[name] = ema * self.alpha + g * (1 - self.alpha)
            p.grad = g + self.ema[name] * self.lamb

    def state_dict(self) -> dict[str, Any]:
        ema = {n: t.clone() for n, t in self.ema.items()}
        return {"alpha": self.alpha, "lamb": self.lamb, "ema": ema}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alpha, self.lamb = float(state["alpha"]), float(state["lamb"])
        self.ema = {n: t.clone() for n, t in state["ema"].items()}


@torch.no_grad()
def nlm_alignment(params: Iterable[Float[Tensor, "..."]]) -> float:
    """Cosine between ``-grad`` and the parameters, all trainable tensors with a gradient
    concatenated (module docstring): 1 when descent only scales the weights up."""
    pairs = [(p.reshape(-1), p.grad.reshape(-1)) for p in params if p.grad is not None]
    if not pairs:
        raise ValueError("no parameter has a gradient: call loss.backward() first")
    w = torch.cat([w.double() for w, _ in pairs])
    g = torch.cat([g.double() for _, g in pairs])
    return float(-torch.dot(w, g) / (w.norm() * g.norm()))
