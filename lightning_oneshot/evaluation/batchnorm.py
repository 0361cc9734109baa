"""BatchNorm re-estimation for one architecture of a supernet.

Running statistics of a supernet mix every path that was trained. Before an architecture is scored, its
BatchNorm statistics are reset and recomputed as an exact average over a fixed set of training batches
(``momentum=None`` gives a cumulative average in PyTorch), and the supernet's own statistics are put back
afterwards. Because every score starts from the same state, a score does not depend on which
architectures were scored before it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def batchnorm_layers(model: nn.Module) -> list[_BatchNorm]:
    return [module for module in model.modules() if isinstance(module, _BatchNorm) and module.track_running_stats]


@contextmanager
def preserved_batchnorm_state(model: nn.Module) -> Iterator[None]:
    """Restore every BatchNorm layer's running statistics and momentum on exit."""
    layers = batchnorm_layers(model)
    saved = [
        (layer.momentum, layer.running_mean.clone(), layer.running_var.clone(), layer.num_batches_tracked.clone())
        for layer in layers
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for layer, (momentum, mean, var, count) in zip(layers, saved):
                layer.momentum = momentum
                layer.running_mean.copy_(mean)
                layer.running_var.copy_(var)
                layer.num_batches_tracked.copy_(count)


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]], device: torch.device) -> None:
    """Reset the BatchNorm statistics of ``model`` and recompute them as the average over ``batches``.

    Only the layers that the forward passes reach get new statistics. The model is left in eval mode.
    """
    layers = batchnorm_layers(model)
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    model.train()
    for x, _ in batches:
        model(x.to(device, non_blocking=True))
    model.eval()
