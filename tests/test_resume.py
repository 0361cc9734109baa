"""Exact resume of the search stage: a run interrupted mid-epoch and resumed ends with the same weights."""

import warnings

import pytest
import torch

from conftest import TINY_OVERRIDES, Preempted, compose_config, read_steps
from lightning_oneshot.data.resumable import EpochSeededSampler, ResumableDataLoader
from lightning_oneshot.pipeline import run

# 9 training batches of 128 digits per epoch, so step 3 is in the middle of the first epoch.
STEPS_PER_EPOCH = 9
SEARCH_OVERRIDES = [
    *(item for item in TINY_OVERRIDES if not item.startswith("trainer.max_epochs")),
    "stage=search",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "trainer.deterministic=true",
    "checkpoint.every_n_train_steps=3",
    "dataset.batch_size=128",
    "search_space.num_stages=1",
    "sampler.num_val_architectures=1",
]


def _search(run_dir, record_name, *overrides):
    cfg = compose_config(
        run_dir,
        [
            *SEARCH_OVERRIDES,
            "+callbacks.record._target_=conftest.StepRecorder",
            f"+callbacks.record.path={run_dir / record_name}",
            *overrides,
        ],
    )
    return run(cfg)


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    full = tmp_path_factory.mktemp("full")
    _search(full, "steps.jsonl")

    interrupted = tmp_path_factory.mktemp("interrupted")
    with pytest.raises(Preempted):
        _search(interrupted, "steps.jsonl", "+callbacks.stop._target_=conftest.InterruptAtStep", "+callbacks.stop.step=5")
    saved_step = torch.load(interrupted / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _search(interrupted, "resumed.jsonl", f"ckpt_path={interrupted / 'checkpoints' / 'last.ckpt'}")
    return full, interrupted, saved_step, [str(warning.message) for warning in caught]


def test_interruption_is_mid_epoch(runs):
    _, _, saved_step, _ = runs
    assert saved_step == 3
    assert saved_step % STEPS_PER_EPOCH != 0


def test_resumed_weights_equal_uninterrupted(runs):
    full, interrupted, _, _ = runs
    expected, actual = _weights(full / "supernet.ckpt"), _weights(interrupted / "supernet.ckpt")
    assert expected.keys() == actual.keys()
    different = [name for name in expected if not torch.equal(expected[name], actual[name])]
    assert different == []


def test_resumed_steps_continue_the_sequence(runs):
    full, interrupted, saved_step, _ = runs
    expected, resumed = read_steps(full / "steps.jsonl"), read_steps(interrupted / "resumed.jsonl")
    assert sorted(resumed) == list(range(saved_step, 2 * STEPS_PER_EPOCH))
    for step, record in resumed.items():
        assert record["labels"] == expected[step]["labels"], f"data order differs at step {step}"
        assert record["mask"] == expected[step]["mask"], f"mask differs at step {step}"
        assert record["lr"] == expected[step]["lr"], f"learning rate differs at step {step}"


def test_resume_has_no_unresumable_loader_warning(runs):
    _, _, _, messages = runs
    assert not [message for message in messages if "not resumable" in message]


def test_loader_skips_delivered_batches():
    data = list(range(10))
    loader = ResumableDataLoader(data, batch_size=3, sampler=EpochSeededSampler(len(data), seed=1))
    loader.sampler.set_epoch(2)
    full = [batch.tolist() for batch in loader]

    resumed = ResumableDataLoader(data, batch_size=3, sampler=EpochSeededSampler(len(data), seed=1))
    resumed.load_state_dict({"seed": 1, "epoch": 2, "batches_delivered": 2})
    resumed.sampler.set_epoch(2)
    assert [batch.tolist() for batch in resumed] == full[2:]
    assert resumed.state_dict() == {"seed": 1, "epoch": 2, "batches_delivered": 4}


def test_loader_state_from_finished_epoch_skips_nothing():
    data = list(range(10))
    loader = ResumableDataLoader(data, batch_size=3, sampler=EpochSeededSampler(len(data), seed=1))
    loader.load_state_dict({"seed": 1, "epoch": 0, "batches_delivered": 4})
    loader.sampler.set_epoch(1)
    assert len(list(loader)) == 4


def test_epoch_orders_differ_and_repeat():
    sampler = EpochSeededSampler(50, seed=3)
    assert sampler.permutation(0) != sampler.permutation(1)
    assert sampler.permutation(1) == EpochSeededSampler(50, seed=3).permutation(1)
