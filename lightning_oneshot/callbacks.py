"""The Lightning callback that sets the supernet's mask before every training batch."""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn

from lightning_oneshot.samplers import Sampler

log = logging.getLogger(__name__)


class ArchitectureSamplingCallback(pl.Callback):
    """Draws the mask for the current global step and applies it to ``pl_module.supernet``.

    The mask depends only on the sampler's seed and ``trainer.global_step``, which Lightning restores on
    resume, so a resumed run continues the same sequence. The sampler's seed is saved with the checkpoint
    and restored from it: resuming with a different ``seed`` in the config warns and keeps the saved one.
    With gradient accumulation, the micro-batches of one optimizer step share a mask.
    """

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.last_step: int | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        rank_zero_info(f"Sampling the supernet with the {self.sampler.name!r} sampler, seed {self.sampler.seed}.")

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        step = trainer.global_step
        mask = self.sampler.mask(step, int(trainer.estimated_stepping_batches))
        pl_module.supernet.set_mask(mask)
        self.last_step = step

    def state_dict(self) -> dict[str, Any]:
        return {**self.sampler.state_dict(), "last_step": self.last_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("name") != self.sampler.name:
            raise ValueError(
                f"The checkpoint was trained with sampler {state_dict.get('name')!r}, but sampler={self.sampler.name!r} "
                f"is configured. Resume with sampler={state_dict.get('name')}."
            )
        saved_seed = int(state_dict["seed"])
        if saved_seed != self.sampler.seed:
            rank_zero_warn(
                f"Resuming with seed {self.sampler.seed}, but the checkpoint's sampler used seed {saved_seed}; "
                f"keeping {saved_seed} so that the mask sequence continues."
            )
            self.sampler.seed = saved_seed
        self.last_step = state_dict.get("last_step")
