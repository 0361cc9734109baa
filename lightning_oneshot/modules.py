"""LightningModules for the search stage (the supernet) and the retrain stage (a standalone network)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from lightning_oneshot.errors import NumericalError
from lightning_oneshot.supernet import Supernet

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


class NonFiniteLossError(NumericalError):
    """Raised when the training loss is NaN or infinite."""


class NonFiniteWeightsError(NumericalError):
    """Raised instead of saving a checkpoint whose weights contain NaN or infinite values."""


class ClassifierModule(pl.LightningModule):
    """Cross-entropy classification with per-stage accuracy and an optimizer and schedule from config.

    With ``channels_last`` the network's weights and every input batch use ``torch.channels_last`` (NHWC).
    On GPUs with mixed precision that layout often speeds up convolutions, so it is worth measuring.
    """

    def __init__(
        self,
        network: nn.Module,
        num_classes: int,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.channels_last = channels_last
        self.network = network.to(memory_format=torch.channels_last) if channels_last else network
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.network(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.train_acc(logits, y)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.test_acc(self(x), y)
        self.log("test/acc", self.test_acc, on_step=False, on_epoch=True)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer, total_steps=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class SupernetModule(ClassifierModule):
    """Trains a weight-sharing supernet. A sampling callback sets the mask before every training batch.

    After each epoch it validates a fixed set of masks (``validation_masks``) given by the sampler and logs
    each one's accuracy as ``val/acc/<label>`` and their mean as ``val/acc``.
    """

    def __init__(
        self,
        supernet: Supernet,
        num_classes: int,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        validation_masks: Sequence[tuple[str, np.ndarray]] = (),
        space_description: dict | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__(supernet, num_classes, optimizer, scheduler, channels_last)
        self.validation_masks = list(validation_masks)
        self.space_description = space_description
        self.val_accs = nn.ModuleList(MulticlassAccuracy(num_classes, average="micro") for _ in self.validation_masks)

    @property
    def supernet(self) -> Supernet:
        return self.network

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        if not torch.isfinite(loss):
            mask = self.supernet.mask
            raise NonFiniteLossError(
                f"Training loss is {loss.item()} at global step {self.global_step} under the mask "
                f"{self._describe_mask(mask)}. The last saved checkpoint is kept. Lower the learning rate "
                f"(optimizer.lr) or check the data."
            )
        return loss

    def _describe_mask(self, mask: torch.Tensor | None) -> dict:
        if mask is None:
            return {}
        return {
            edge: [op for op, active in zip(self.supernet.ops, row) if active]
            for edge, row in zip(self.supernet.edges, mask.tolist())
        }

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        for (label, mask), metric in zip(self.validation_masks, self.val_accs):
            self.supernet.set_mask(mask)
            metric.update(self(x), y)

    def on_validation_epoch_end(self) -> None:
        if not self.validation_masks:
            return
        accuracies = []
        for (label, _), metric in zip(self.validation_masks, self.val_accs):
            accuracy = metric.compute()
            metric.reset()
            accuracies.append(accuracy)
            # compute() already reduced the metric over ranks, so sync_dist only silences Lightning's warning.
            self.log(f"val/acc/{label}", accuracy, sync_dist=True)
        self.log("val/acc", torch.stack(accuracies).mean(), prog_bar=True, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lightning calls this hook before it writes the file, so raising here keeps the last good checkpoint.
        bad = [
            name
            for name, tensor in checkpoint["state_dict"].items()
            if tensor.is_floating_point() and not torch.isfinite(tensor).all()
        ]
        if bad:
            raise NonFiniteWeightsError(
                f"Supernet weights are NaN or infinite after global step {self.global_step} (first of "
                f"{len(bad)} tensors: {bad[0]}), so no checkpoint was saved and the last saved one is kept. "
                f"Lower the learning rate (optimizer.lr) or check the data."
            )
        checkpoint["search_space"] = self.space_description
        if isinstance(self.logger, WandbLogger):
            # Lets a resumed search stage continue the same W&B run instead of starting a new one.
            checkpoint["wandb_run_id"] = self.logger.version


class StandaloneModule(ClassifierModule):
    """Trains one architecture from scratch as an ordinary network."""

    def __init__(
        self,
        network: nn.Module,
        num_classes: int,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__(network, num_classes, optimizer, scheduler, channels_last)
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.val_acc(self(x), y)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)
