"""A two-process DDP run of the supernet that records, per rank, what the DDP tests compare.

Lightning relaunches this script once per extra process. Each rank writes ``rank<r>.json`` into the folder
given as the first argument: the mask of every step, a checksum of every parameter after training, and
whether the operations that were inactive in each step kept their weights exactly.
"""

import json
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_oneshot.callbacks import ArchitectureSamplingCallback
from lightning_oneshot.modules import SupernetModule
from lightning_oneshot.samplers import UniformSampler
from lightning_oneshot.spaces import NB201Space
from lightning_oneshot.supernet import MixedEdge


class Probe(pl.Callback):
    def __init__(self):
        self.masks = []
        self.inactive_unchanged = []
        self._before = {}

    def _inactive(self, pl_module):
        found = {}
        for path, module in pl_module.supernet.named_modules():
            if isinstance(module, MixedEdge):
                for name, op in module.candidates.items():
                    if name not in module.active_names:
                        found.update({f"{path}.{name}.{key}": p for key, p in op.named_parameters()})
        return found

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        # The mask is set by now, and any gradient of an inactive operation would be visible.
        self._before = {key: p.detach().clone() for key, p in self._inactive(pl_module).items()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.masks.append(pl_module.supernet.mask.int().tolist())
        current = self._inactive(pl_module)
        self.inactive_unchanged.append(all(torch.equal(current[key].detach(), value) for key, value in self._before.items()))


def main(out_dir: Path) -> None:
    pl.seed_everything(0)
    space = NB201Space(in_channels=1, num_classes=10, width=4, num_stages=2)
    module = SupernetModule(
        space.build_supernet(),
        num_classes=10,
        optimizer=lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=0.01),
        space_description=space.describe(),
    )
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(64, 1, 8, 8, generator=generator), torch.randint(0, 10, (64,), generator=generator))
    probe = Probe()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_find_unused_parameters_true",
        max_steps=6,
        callbacks=[ArchitectureSamplingCallback(UniformSampler(space, seed=3)), probe],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, DataLoader(data, batch_size=8, shuffle=True))

    checksums = {name: float(p.detach().double().sum()) for name, p in module.named_parameters()}
    result = {"masks": probe.masks, "inactive_unchanged": probe.inactive_unchanged, "checksums": checksums}
    (out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
