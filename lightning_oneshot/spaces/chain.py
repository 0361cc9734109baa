"""A layer-wise chain space: one operation per layer, in the style of SPOS and ProxylessNAS.

A network is a stem, a chain of choice layers grouped in stages, and a classifier head. Each layer picks one
inverted-residual block (MobileNetV2's MBConv, Sandler et al. 2018) from a list of kernel sizes and expansion
ratios, or ``skip_connect``. The architecture edge ``edge_i_{i+1}`` is layer i, from node i to node i + 1.

On a layer that keeps the shape of its input, the residual connection belongs to the layer, not to the
operation: the layer returns ``x + sum(active operations)``. ``skip_connect`` is then the layer with no
operation, the identity, and owns no module. A layer that changes the shape (the first layer of a stage
with a stride or a new width) has no residual connection and no ``skip_connect`` candidate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.supernet import MixedEdge, Supernet

SKIP = "skip_connect"
_MBCONV_PATTERN = re.compile(r"mbconv_(\d+)x(\d+)_e(\d+)")
_MBCONV_HELP = "skip_connect or mbconv_<k>x<k>_e<e> with an odd kernel size k and an expansion ratio e >= 1, e.g. mbconv_3x3_e6"


def parse_mbconv(name: str) -> tuple[int, int]:
    """Return ``(kernel_size, expansion)`` of an operation name such as ``mbconv_5x5_e3``."""
    match = _MBCONV_PATTERN.fullmatch(name)
    if match is None:
        raise ValueError(f"Unknown chain operation {name!r}. Allowed operations: {_MBCONV_HELP}.")
    height, width, expansion = (int(group) for group in match.groups())
    if height != width or height % 2 == 0 or expansion < 1:
        raise ValueError(f"Invalid chain operation {name!r}. Allowed operations: {_MBCONV_HELP}.")
    return height, expansion


class MBConv(nn.Sequential):
    """An inverted-residual block without its shortcut: 1x1 expansion, depthwise kxk, linear 1x1 projection.

    The expansion convolution is left out when the expansion ratio is 1, as in MobileNetV2. The shortcut is
    added by ``ChainLayer``, so that the same module serves layers with and without one.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, expansion: int, stride: int) -> None:
        hidden = in_channels * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [
            nn.Conv2d(hidden, hidden, kernel_size, stride, padding=kernel_size // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        super().__init__(*layers)


def build_chain_operation(name: str, in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """Build one candidate operation of a layer, or return None for ``skip_connect``."""
    if name == SKIP:
        return None
    kernel_size, expansion = parse_mbconv(name)
    return MBConv(in_channels, out_channels, kernel_size, expansion, stride)


class ChainLayer(nn.Module):
    """One choice layer. ``op`` is a ``MixedEdge`` in the supernet, the chosen operation in a standalone network,
    or None when a standalone layer chose ``skip_connect``.
    """

    def __init__(self, op: nn.Module | None, residual: bool) -> None:
        super().__init__()
        self.op = op
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = None if self.op is None else self.op(x)
        if self.residual:
            return x if y is None else x + y
        if y is None:
            raise RuntimeError("A shape-changing chain layer has no active operation. The mask must activate one.")
        return y


class ChainNetwork(nn.Module):
    """Stem, choice layers, and a head of 1x1 convolution, global average pooling and a linear classifier."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        stem_width: int,
        last_width: int,
        head_width: int,
        layers: Sequence[ChainLayer],
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 3, padding=1, bias=False), nn.BatchNorm2d(stem_width), nn.ReLU6()
        )
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Conv2d(last_width, head_width, 1, bias=False),
            nn.BatchNorm2d(head_width),
            nn.ReLU6(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(head_width, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)))


def chain_edge_key(layer: int) -> str:
    return f"edge_{layer}_{layer + 1}"


class ChainSpace(SearchSpace):
    """A chain of ``sum(stage_depths)`` choice layers in stages, in which each layer picks one operation.

    Stage s has ``stage_depths[s]`` layers of width ``stage_widths[s]``. Its first layer has stride
    ``stage_strides[s]`` and the others stride 1. ``skip_connect`` is a candidate only on layers whose input and
    output shapes match, so the size of the space is the product over layers of their candidate counts.
    """

    name = "chain"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        stem_width: int = 16,
        stage_widths: Sequence[int] = (16, 32, 64),
        stage_depths: Sequence[int] = (2, 3, 3),
        stage_strides: Sequence[int] = (1, 2, 2),
        head_width: int = 128,
        ops: Sequence[str] = (
            "mbconv_3x3_e3", "mbconv_3x3_e6", "mbconv_5x5_e3", "mbconv_5x5_e6", "mbconv_7x7_e3", "mbconv_7x7_e6", SKIP,
        ),
    ) -> None:
        ops = tuple(ops)
        stage_widths, stage_depths, stage_strides = tuple(stage_widths), tuple(stage_depths), tuple(stage_strides)
        _check_ops(ops)
        _check_positive_int("stem_width", stem_width)
        _check_positive_int("head_width", head_width)
        _check_stages(stage_widths, stage_depths, stage_strides)

        # (in_channels, out_channels, stride) of every layer, in order.
        self.layer_shapes: list[tuple[int, int, int]] = []
        channels = stem_width
        for width, depth, stride in zip(stage_widths, stage_depths, stage_strides):
            for index in range(depth):
                self.layer_shapes.append((channels, width, stride if index == 0 else 1))
                channels = width

        edges = tuple(chain_edge_key(layer) for layer in range(len(self.layer_shapes)))
        super().__init__(edges, ops)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.stem_width = stem_width
        self.stage_widths = stage_widths
        self.stage_depths = stage_depths
        self.stage_strides = stage_strides
        self.head_width = head_width

        shapeless = [edge for edge in edges if not self.edge_candidates(edge)]
        if shapeless:
            raise ValueError(
                f"search_space.ops: {list(ops)} leaves no candidate on the shape-changing layers {shapeless}, "
                f"because skip_connect cannot change the shape. Add at least one mbconv operation."
            )

    def _keeps_shape(self, layer: int) -> bool:
        in_channels, out_channels, stride = self.layer_shapes[layer]
        return in_channels == out_channels and stride == 1

    def edge_candidates(self, edge: str) -> tuple[str, ...]:
        if self._keeps_shape(self.edges.index(edge)):
            return self.ops
        return tuple(op for op in self.ops if op != SKIP)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "stem_width": self.stem_width,
            "stage_widths": list(self.stage_widths),
            "stage_depths": list(self.stage_depths),
            "stage_strides": list(self.stage_strides),
            "head_width": self.head_width,
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
        }

    def _layer(self, layer: int, op: nn.Module | None) -> ChainLayer:
        return ChainLayer(op, residual=self._keeps_shape(layer))

    def _network(self, layers: list[ChainLayer]) -> ChainNetwork:
        last_width = self.layer_shapes[-1][1]
        return ChainNetwork(self.in_channels, self.num_classes, self.stem_width, last_width, self.head_width, layers)

    def build_supernet(self) -> Supernet:
        edge_modules: dict[str, list[MixedEdge]] = {}
        layers = []
        for layer, edge in enumerate(self.edges):
            in_channels, out_channels, stride = self.layer_shapes[layer]
            mixed = MixedEdge(
                {op: build_chain_operation(op, in_channels, out_channels, stride) for op in self.edge_candidates(edge)}
            )
            edge_modules[edge] = [mixed]
            layers.append(self._layer(layer, mixed))
        return Supernet(self._network(layers), self.edges, self.ops, edge_modules)

    def build_standalone(self, arch: Architecture) -> nn.Module:
        self.validate(arch)
        choices = self._choices(arch)
        layers = []
        for layer, edge in enumerate(self.edges):
            in_channels, out_channels, stride = self.layer_shapes[layer]
            layers.append(self._layer(layer, build_chain_operation(choices[edge], in_channels, out_channels, stride)))
        return self._network(layers)


def _check_positive_int(key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"search_space.{key} must be an integer >= 1, got {value!r}.")


def _check_ops(ops: tuple[str, ...]) -> None:
    if not ops or len(set(ops)) != len(ops):
        raise ValueError(f"search_space.ops must be a non-empty list without repeats, got {list(ops)}.")
    for op in ops:
        if op != SKIP:
            try:
                parse_mbconv(op)
            except ValueError as error:
                raise ValueError(f"search_space.ops: {error}") from None


def _check_stages(widths: tuple, depths: tuple, strides: tuple) -> None:
    if not widths or not len(widths) == len(depths) == len(strides):
        raise ValueError(
            f"search_space.stage_widths, stage_depths and stage_strides must be non-empty lists of the same "
            f"length (one entry per stage), got lengths {len(widths)}, {len(depths)} and {len(strides)}."
        )
    for key, values in (("stage_widths", widths), ("stage_depths", depths)):
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"search_space.{key} must contain integers >= 1, got {list(values)}.")
    for stride in strides:
        if stride not in (1, 2):
            raise ValueError(f"search_space.stage_strides must contain only 1 or 2, got {list(strides)}.")
