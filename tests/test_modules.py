import functools

import numpy as np
import torch

from lightning_oneshot.modules import StandaloneModule


def test_channels_last_converts_weights_and_keeps_outputs(tiny_space, images):
    arch = tiny_space.sample(np.random.default_rng(0))
    torch.manual_seed(0)
    plain = StandaloneModule(tiny_space.build_standalone(arch), 10, functools.partial(torch.optim.SGD, lr=0.1)).eval()
    converted = StandaloneModule(
        tiny_space.build_standalone(arch), 10, functools.partial(torch.optim.SGD, lr=0.1), channels_last=True
    ).eval()
    converted.network.load_state_dict(plain.network.state_dict())

    weights = [p for p in converted.network.parameters() if p.dim() == 4]
    assert weights
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    with torch.no_grad():
        assert torch.allclose(converted(images), plain(images), atol=1e-5)
