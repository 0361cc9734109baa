"""Scores architectures with the supernet's shared weights: BatchNorm re-estimation, then validation accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import torch

from lightning_oneshot.evaluation.batchnorm import preserved_batchnorm_state, reestimate_batchnorm
from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.supernet import Supernet

Batch = tuple[torch.Tensor, torch.Tensor]


class Scorer:
    """Measures the one-shot validation accuracy of an architecture in place on the supernet.

    No module is copied: the scorer sets the architecture's mask, re-estimates BatchNorm statistics on
    ``calibration_batches`` (skipped when the list is empty), runs the validation batches under
    ``torch.inference_mode``, and restores the supernet's BatchNorm statistics.
    """

    def __init__(
        self,
        supernet: Supernet,
        calibration_batches: Sequence[Batch],
        validation_batches: Sequence[Batch],
        device: torch.device | str = "cpu",
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.supernet = supernet.to(self.device).eval()
        self.calibration_batches = [(x.to(self.device), y) for x, y in calibration_batches]
        self.validation_batches = [(x.to(self.device), y.to(self.device)) for x, y in validation_batches]
        self.autocast_dtype = autocast_dtype

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def score(self, arch: Architecture) -> float:
        """Return the validation accuracy of ``arch`` with the shared weights, in [0, 1].

        Returns NaN when any output is NaN or infinite, because an argmax over such logits would still
        produce a plausible-looking accuracy.
        """
        self.supernet.set_mask(arch)
        with preserved_batchnorm_state(self.supernet), self._autocast():
            if self.calibration_batches:
                reestimate_batchnorm(self.supernet, self.calibration_batches, self.device)
            self.supernet.eval()
            correct = torch.zeros((), dtype=torch.long, device=self.device)
            finite = torch.ones((), dtype=torch.bool, device=self.device)
            total = 0
            with torch.inference_mode():
                for x, y in self.validation_batches:
                    logits = self.supernet(x)
                    finite &= torch.isfinite(logits).all()
                    correct += (logits.argmax(dim=1) == y).sum()
                    total += len(y)
        if not finite.item():
            return float("nan")
        return correct.item() / max(1, total)
