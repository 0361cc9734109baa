import numpy as np
import torch
from torch import nn

from lightning_oneshot.evaluation.batchnorm import preserved_batchnorm_state, reestimate_batchnorm
from lightning_oneshot.evaluation.scorer import Scorer


def _batches(count: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 1, 8, 8, generator=generator) * 3 + 1, torch.randint(0, 10, (16,), generator=generator)) for _ in range(count)]


def test_reestimation_is_the_exact_batch_average():
    layer = nn.BatchNorm2d(1)
    layer.running_mean.fill_(5.0)
    batches = _batches(4)
    reestimate_batchnorm(layer, batches, torch.device("cpu"))

    means = torch.stack([x.mean(dim=(0, 2, 3)) for x, _ in batches])
    variances = torch.stack([x.var(dim=(0, 2, 3), unbiased=True) for x, _ in batches])
    torch.testing.assert_close(layer.running_mean, means.mean(dim=0), rtol=0, atol=1e-6)
    torch.testing.assert_close(layer.running_var, variances.mean(dim=0), rtol=0, atol=1e-5)
    assert not layer.training


def test_reestimation_in_a_supernet_uses_the_layer_inputs(tiny_space):
    supernet = tiny_space.build_supernet()
    supernet.set_mask(tiny_space.architecture({edge: "conv_3x3" for edge in tiny_space.edges}))
    batches = _batches(3)
    stem_bn = supernet.network.stem[1]
    reestimate_batchnorm(supernet, batches, torch.device("cpu"))

    with torch.no_grad():
        features = [supernet.network.stem[0](x) for x, _ in batches]
    expected = torch.stack([f.mean(dim=(0, 2, 3)) for f in features]).mean(dim=0)
    torch.testing.assert_close(stem_bn.running_mean, expected, rtol=0, atol=1e-5)


def test_preserved_state_restores_statistics_and_momentum():
    layer = nn.BatchNorm2d(2)
    layer.running_mean.fill_(3.0)
    with preserved_batchnorm_state(layer):
        reestimate_batchnorm(layer, [(torch.randn(4, 2, 3, 3), None)], torch.device("cpu"))
    assert torch.equal(layer.running_mean, torch.full((2,), 3.0))
    assert layer.momentum == 0.1


def test_score_does_not_depend_on_scoring_order(tiny_space):
    supernet = tiny_space.build_supernet()
    supernet.train()
    rng = np.random.default_rng(0)
    for x, _ in _batches(3, seed=1):
        supernet.set_mask(tiny_space.sample(rng))
        supernet(x)
    scorer = Scorer(supernet, _batches(2, seed=2), _batches(2, seed=3))
    architectures = [tiny_space.sample(rng) for _ in range(4)]

    forward = [scorer.score(arch) for arch in architectures]
    backward = [scorer.score(arch) for arch in reversed(architectures)][::-1]
    assert forward == backward


def test_scoring_leaves_supernet_statistics_unchanged(tiny_space):
    supernet = tiny_space.build_supernet()
    before = {name: buffer.clone() for name, buffer in supernet.named_buffers()}
    scorer = Scorer(supernet, _batches(2), _batches(1))
    scorer.score(tiny_space.sample(np.random.default_rng(0)))
    for name, buffer in supernet.named_buffers():
        assert torch.equal(buffer, before[name]), name


def test_scoring_without_reestimation_uses_supernet_statistics(tiny_space):
    supernet = tiny_space.build_supernet()
    arch = tiny_space.sample(np.random.default_rng(0))
    batches = _batches(2, seed=4)
    accuracy = Scorer(supernet, [], batches).score(arch)

    supernet.set_mask(arch)
    supernet.eval()
    with torch.no_grad():
        correct = sum(int((supernet(x).argmax(1) == y).sum()) for x, y in batches)
    assert accuracy == correct / 32
