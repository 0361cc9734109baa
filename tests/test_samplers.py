import numpy as np
import pytest

from lightning_oneshot.samplers import DropPathSampler, UniformSampler


def test_uniform_mask_depends_only_on_seed_and_step(tiny_space):
    first, second = UniformSampler(tiny_space, seed=7), UniformSampler(tiny_space, seed=7)
    for step in (0, 1, 5, 1000):
        assert np.array_equal(first.mask(step, 100), second.mask(step, 100))


def test_uniform_masks_vary_with_step_and_seed(tiny_space):
    sampler = UniformSampler(tiny_space, seed=7)
    masks = {sampler.mask(step, 100).tobytes() for step in range(20)}
    assert len(masks) > 15
    other = UniformSampler(tiny_space, seed=8)
    assert any(not np.array_equal(sampler.mask(step, 100), other.mask(step, 100)) for step in range(5))


def test_uniform_mask_is_single_path(tiny_space):
    sampler = UniformSampler(tiny_space, seed=0)
    for step in range(20):
        tiny_space.architecture(sampler.mask(step, 100))


def test_uniform_draws_every_op_equally_often(tiny_space):
    sampler = UniformSampler(tiny_space, seed=0)
    counts = sum(sampler.mask(step, 1).astype(int) for step in range(2000))
    expected = 2000 / len(tiny_space.ops)
    assert np.all(np.abs(counts - expected) < 0.15 * expected)


def test_validation_architectures_are_fixed(tiny_space):
    first = UniformSampler(tiny_space, seed=3, num_val_architectures=4).validation_masks()
    second = UniformSampler(tiny_space, seed=3, num_val_architectures=4).validation_masks()
    assert [label for label, _ in first] == [label for label, _ in second]
    assert len(first) == 4


def test_droppath_keeps_at_least_one_op_per_edge(tiny_space):
    sampler = DropPathSampler(tiny_space, seed=0, drop_prob=1.0)
    for step in range(50):
        mask = sampler.mask(step, 50)
        assert mask.sum(axis=1).min() >= 1


def test_droppath_probability_rises_linearly(tiny_space):
    sampler = DropPathSampler(tiny_space, seed=0, drop_prob=0.6)
    assert sampler.current_drop_prob(0, 101) == 0.0
    assert sampler.current_drop_prob(50, 101) == pytest.approx(0.3)
    assert sampler.current_drop_prob(100, 101) == pytest.approx(0.6)


def test_droppath_first_step_keeps_every_op(tiny_space):
    sampler = DropPathSampler(tiny_space, seed=0, drop_prob=0.9)
    assert sampler.mask(0, 100).all()


def test_droppath_drops_at_the_configured_rate(tiny_space):
    sampler = DropPathSampler(tiny_space, seed=0, drop_prob=0.5)
    kept = np.mean([sampler.space.droppath_mask(sampler.rng(step), 0.5).mean() for step in range(2000)])
    # Each op is kept with probability 0.5, plus the rescue of fully dropped edges: 0.5 + 0.5**5 / 5.
    assert kept == pytest.approx(0.5 + 0.5**5 / 5, abs=0.01)


def test_droppath_validates_on_the_whole_model(tiny_space):
    [(label, mask)] = DropPathSampler(tiny_space, seed=0).validation_masks()
    assert label == "all_ops"
    assert mask.all()


@pytest.mark.parametrize("drop_prob", [-0.1, 1.5, "high"])
def test_droppath_rejects_bad_probability(tiny_space, drop_prob):
    with pytest.raises(ValueError, match="sampler.drop_prob must be a number in \\[0, 1\\]"):
        DropPathSampler(tiny_space, seed=0, drop_prob=drop_prob)
