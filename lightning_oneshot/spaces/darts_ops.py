"""Candidate operations of DARTS cells (Liu et al. 2019, "DARTS: Differentiable Architecture Search").

Every operation maps ``channels`` to ``channels``. With stride 2 (an edge from a cell input in a reduction
cell) it halves the resolution, rounding up. The zero operation of DARTS is not here: in the ``darts`` space
an unused edge has no operation at all, so the zero operation is never built.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F


class SepConv(nn.Sequential):
    """Two stacked ReLU, depthwise kxk, pointwise 1x1, BatchNorm units; only the first one has the stride."""

    def __init__(self, channels: int, kernel_size: int, stride: int) -> None:
        super().__init__(
            DilConv(channels, kernel_size, stride, dilation=1),
            DilConv(channels, kernel_size, 1, dilation=1),
        )


class DilConv(nn.Sequential):
    """ReLU, depthwise kxk convolution with ``dilation``, pointwise 1x1 convolution, BatchNorm."""

    def __init__(self, channels: int, kernel_size: int, stride: int, dilation: int) -> None:
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(channels, channels, kernel_size, stride, padding, dilation, groups=channels, bias=False),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing pixels: two 1x1 convolutions with stride 2, one of them on the input
    shifted by one pixel, concatenated along channels, then BatchNorm.

    The shifted input is padded back to the input's size, so odd resolutions work too (7x7 -> 4x4).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {out_channels}.")
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = nn.Conv2d(in_channels, out_channels // 2, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(in_channels, out_channels // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def _skip(channels: int, stride: int) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels)


# Factories keyed by operation name; each takes (channels, stride).
DARTS_OPERATIONS: dict[str, Callable[[int, int], nn.Module]] = {
    "max_pool_3x3": lambda channels, stride: nn.MaxPool2d(3, stride, padding=1),
    "avg_pool_3x3": lambda channels, stride: nn.AvgPool2d(3, stride, padding=1, count_include_pad=False),
    "skip_connect": _skip,
    "sep_conv_3x3": lambda channels, stride: SepConv(channels, 3, stride),
    "sep_conv_5x5": lambda channels, stride: SepConv(channels, 5, stride),
    "dil_conv_3x3": lambda channels, stride: DilConv(channels, 3, stride, dilation=2),
    "dil_conv_5x5": lambda channels, stride: DilConv(channels, 5, stride, dilation=2),
}

DARTS_OPERATION_NAMES: tuple[str, ...] = tuple(DARTS_OPERATIONS)


def build_darts_operation(name: str, channels: int, stride: int) -> nn.Module:
    """Build one candidate operation of a DARTS edge."""
    if name not in DARTS_OPERATIONS:
        raise ValueError(f"Unknown operation {name!r}. Allowed operations: {', '.join(DARTS_OPERATION_NAMES)}.")
    return DARTS_OPERATIONS[name](channels, stride)
