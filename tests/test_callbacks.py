"""The sampling callback: masks per step, and the same sequence after resuming from a checkpoint."""

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lightning_oneshot.callbacks import ArchitectureSamplingCallback
from lightning_oneshot.modules import SupernetModule
from lightning_oneshot.samplers import DropPathSampler, UniformSampler


class MaskRecorder(pl.Callback):
    def __init__(self):
        self.masks = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.masks[trainer.global_step - 1] = pl_module.supernet.mask.clone()


def _loader():
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(40, 1, 8, 8, generator=generator), torch.randint(0, 10, (40,), generator=generator))
    return DataLoader(data, batch_size=8)


def _fit(space, sampler, max_steps, tmp_path, ckpt_path=None, extra_callbacks=()):
    torch.manual_seed(0)
    module = SupernetModule(
        space.build_supernet(),
        num_classes=10,
        optimizer=lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9),
        space_description=space.describe(),
    )
    recorder = MaskRecorder()
    trainer = pl.Trainer(
        max_steps=max_steps,
        max_epochs=-1,
        callbacks=[ArchitectureSamplingCallback(sampler), recorder, *extra_callbacks],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, train_dataloaders=_loader(), ckpt_path=ckpt_path)
    return recorder.masks, trainer


def test_mask_matches_sampler_for_each_step(tiny_space, tmp_path):
    sampler = UniformSampler(tiny_space, seed=5)
    masks, _ = _fit(tiny_space, sampler, 8, tmp_path)
    assert sorted(masks) == list(range(8))
    for step, mask in masks.items():
        assert torch.equal(mask, torch.from_numpy(sampler.mask(step, 8)))


def test_resume_continues_the_mask_sequence(tiny_space, tmp_path):
    uninterrupted, _ = _fit(tiny_space, UniformSampler(tiny_space, seed=5), 10, tmp_path / "full")

    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=4, save_top_k=0)
    first, _ = _fit(tiny_space, UniformSampler(tiny_space, seed=5), 4, tmp_path / "part", extra_callbacks=[checkpoint])
    # A different configured seed must not change the resumed sequence: the checkpoint's seed wins.
    resumed, _ = _fit(tiny_space, UniformSampler(tiny_space, seed=99), 10, tmp_path / "part", ckpt_path=tmp_path / "ckpt" / "last.ckpt")

    assert sorted(first) == [0, 1, 2, 3]
    assert sorted(resumed) == [4, 5, 6, 7, 8, 9]
    for step in range(10):
        assert torch.equal(({**first, **resumed})[step], uninterrupted[step])


def test_callback_state_round_trips(tiny_space):
    callback = ArchitectureSamplingCallback(DropPathSampler(tiny_space, seed=3, drop_prob=0.4))
    callback.last_step = 12
    restored = ArchitectureSamplingCallback(DropPathSampler(tiny_space, seed=0, drop_prob=0.4))
    restored.load_state_dict(callback.state_dict())
    assert restored.sampler.seed == 3
    assert restored.last_step == 12


def test_callback_rejects_another_sampler(tiny_space):
    state = ArchitectureSamplingCallback(UniformSampler(tiny_space, seed=0)).state_dict()
    callback = ArchitectureSamplingCallback(DropPathSampler(tiny_space, seed=0))
    with pytest.raises(ValueError, match="sampler='droppath' is configured. Resume with sampler=uniform"):
        callback.load_state_dict(state)
