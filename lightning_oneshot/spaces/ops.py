"""Candidate operations and the fixed blocks that cell-based networks are built from.

The operation set follows NAS-Bench-201 (Dong & Yang 2020): convolutions are ReLU-Conv-BN, pooling
keeps the resolution, and ``none`` is the zero operation. The zero operation owns no module: a supernet
skips it and a standalone network drops the edge, which is exactly equivalent because it adds nothing
to the sum at the node.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

ZERO_OP = "none"


class ReLUConvBN(nn.Sequential):
    """ReLU, then a convolution without bias, then BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
        )


class ResidualReductionBlock(nn.Module):
    """ResNet basic block with stride 2 that joins two stages, as in NAS-Bench-201."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(in_channels, out_channels, 3, stride=2)
        self.conv_b = ReLUConvBN(out_channels, out_channels, 3, stride=1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=True),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


OperationFactory = Callable[[int], nn.Module]

# Factories for shape-preserving cell operations, keyed by name. Each takes the channel count.
CELL_OPERATIONS: dict[str, OperationFactory] = {
    "skip_connect": lambda channels: nn.Identity(),
    "conv_1x1": lambda channels: ReLUConvBN(channels, channels, 1),
    "conv_3x3": lambda channels: ReLUConvBN(channels, channels, 3),
    "avg_pool_3x3": lambda channels: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
    "max_pool_3x3": lambda channels: nn.MaxPool2d(3, stride=1, padding=1),
}

CELL_OPERATION_NAMES: tuple[str, ...] = (ZERO_OP, *CELL_OPERATIONS)


def build_cell_operation(name: str, channels: int) -> nn.Module | None:
    """Build one candidate operation, or return None for the zero operation."""
    if name == ZERO_OP:
        return None
    if name not in CELL_OPERATIONS:
        raise ValueError(f"Unknown operation {name!r}. Allowed operations: {', '.join(CELL_OPERATION_NAMES)}.")
    return CELL_OPERATIONS[name](channels)
