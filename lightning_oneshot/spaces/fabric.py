"""Convolutional Neural Fabrics (Saxena & Verbeek 2016): a lattice of layers and scales in which an
architecture is one path from the input node to the output node.

Node (l, s) sits at layer l and scale s, where scale s has the input's resolution halved s times. It receives
from (l-1, s-1) through a stride-2 convolution, from (l-1, s) through a convolution, and from (l-1, s+1)
through an upsampling convolution, and sums what it receives. The stem feeds node (0, 0), and the classifier
reads node (num_layers - 1, output_scale). Every path has one edge per layer step, so all paths have the same
depth. Paths that overlap share the parameters of their common edges, because each lattice edge owns exactly
one module.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lightning_oneshot.spaces.architecture import Architecture, ArchitectureError
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.spaces.ops import ReLUConvBN
from lightning_oneshot.supernet import MixedEdge, Supernet

DOWN, SAME, UP = "conv_3x3_stride2", "conv_3x3", "upsample_conv_3x3"
FABRIC_OPS: tuple[str, ...] = (DOWN, SAME, UP)

Path = list[int]  # the scale of the path at each layer, from layer 0 to the last layer


def fabric_edge_key(layer: int, source_scale: int, target_scale: int) -> str:
    """Return the key of the edge from node (layer - 1, source_scale) to node (layer, target_scale)."""
    return f"layer{layer}/scale{source_scale}_to_scale{target_scale}"


def _edge_op(source_scale: int, target_scale: int) -> str:
    return {1: DOWN, 0: SAME, -1: UP}[target_scale - source_scale]


def _scale_sizes(height: int, width: int, num_scales: int) -> list[tuple[int, int]]:
    # A 3x3 convolution with stride 2 and padding 1 maps n pixels to ceil(n / 2).
    sizes = [(height, width)]
    for _ in range(1, num_scales):
        sizes.append((math.ceil(sizes[-1][0] / 2), math.ceil(sizes[-1][1] / 2)))
    return sizes


class FabricNetwork(nn.Module):
    """A stem, the fabric edges given in ``edges`` (key -> module), and a global-pool classifier head.

    A node is computed only when at least one of its incoming edges has a computed source and returns a tensor,
    so a single path runs only the modules on that path. An upsampling edge first resizes its input to the
    target scale with nearest-neighbour interpolation. The fabric does the resize because only the fabric has the
    target size, which is ``ceil`` of half the finer size and so not always twice the coarser size.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        channels: Sequence[int],
        num_layers: int,
        output_scale: int,
        edges: dict[str, nn.Module],
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.num_scales = len(channels)
        self.output_scale = output_scale
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels[0], 3, padding=1, bias=False), nn.BatchNorm2d(channels[0]))
        self.edges = nn.ModuleDict(edges)
        # For each layer, the (source scale, target scale, key) of the edges that exist in this network.
        self._layer_edges = [
            [
                (source, target, fabric_edge_key(layer, source, target))
                for target in range(self.num_scales)
                for source in (target - 1, target, target + 1)
                if fabric_edge_key(layer, source, target) in edges
            ]
            for layer in range(num_layers)
        ]
        out_channels = channels[output_scale]
        self.head = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(out_channels, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = _scale_sizes(x.shape[-2], x.shape[-1], self.num_scales)
        nodes: list[torch.Tensor | None] = [self.stem(x)] + [None] * (self.num_scales - 1)
        for layer in range(1, self.num_layers):
            following: list[torch.Tensor | None] = [None] * self.num_scales
            for source, target, key in self._layer_edges[layer]:
                edge = self.edges[key]
                if nodes[source] is None or (isinstance(edge, MixedEdge) and not edge.active_names):
                    continue
                inputs = nodes[source]
                if target < source:
                    inputs = F.interpolate(inputs, size=sizes[target], mode="nearest")
                y = edge(inputs)
                if y is not None:
                    following[target] = y if following[target] is None else following[target] + y
            nodes = following

        output = nodes[self.output_scale]
        if output is None:
            raise RuntimeError(
                "No active path reaches the fabric's output node: the mask leaves it disconnected from the input."
            )
        return self.head(output)


class FabricSpace(SearchSpace):
    """Paths through a fabric of ``num_layers`` x ``num_scales`` nodes (Saxena & Verbeek 2016).

    The architecture has one row per lattice edge that lies on at least one input-to-output path, keyed
    ``layer<l>/scale<a>_to_scale<b>``, and three columns: ``conv_3x3_stride2`` (to the next coarser scale),
    ``conv_3x3`` (same scale) and ``upsample_conv_3x3`` (to the next finer scale). Each row has the one
    operation of its direction as its only candidate. A single path activates one edge per layer step, and the
    other rows are unused (``None`` in the readable form). Channels at scale s are ``width * channel_growth**s``.
    """

    name = "fabric"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int = 16,
        num_layers: int = 8,
        num_scales: int = 4,
        output_scale: int | None = None,
        channel_growth: int = 1,
    ) -> None:
        for key, value, minimum in (
            ("width", width, 1),
            ("num_layers", num_layers, 2),
            ("num_scales", num_scales, 1),
            ("channel_growth", channel_growth, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"search_space.{key} must be an integer >= {minimum}, got {value!r}.")
        output_scale = num_scales - 1 if output_scale is None else output_scale
        if isinstance(output_scale, bool) or not isinstance(output_scale, int) or not 0 <= output_scale < num_scales:
            raise ValueError(
                f"search_space.output_scale must be an integer in [0, {num_scales - 1}] (null for the coarsest "
                f"scale), got {output_scale!r}."
            )
        if output_scale > num_layers - 1:
            raise ValueError(
                f"search_space.output_scale={output_scale} cannot be reached in num_layers={num_layers}: a path moves "
                f"at most one scale per layer, so set num_layers >= {output_scale + 1} or lower output_scale."
            )

        self.in_channels = in_channels
        self.num_classes = num_classes
        self.width = width
        self.num_layers = num_layers
        self.num_scales = num_scales
        self.output_scale = output_scale
        self.channel_growth = channel_growth
        self.channels = [width * channel_growth**scale for scale in range(num_scales)]
        # _paths_to_output[l][s]: the number of paths from node (l, s) to the output node.
        self._paths_to_output = self._count_paths_to_output()
        edges = tuple(
            fabric_edge_key(layer, source, target)
            for layer in range(1, num_layers)
            for target in range(num_scales)
            for source in (target - 1, target, target + 1)
            if self._on_some_path(layer, source, target)
        )
        super().__init__(edges, FABRIC_OPS)
        self._edge_index = {edge: row for row, edge in enumerate(self.edges)}

    # Structure -------------------------------------------------------------------------------------

    def _next_scales(self, scale: int) -> list[int]:
        return [target for target in (scale - 1, scale, scale + 1) if 0 <= target < self.num_scales]

    def _count_paths_to_output(self) -> list[list[int]]:
        counts = [[0] * self.num_scales for _ in range(self.num_layers)]
        counts[-1][self.output_scale] = 1
        for layer in range(self.num_layers - 2, -1, -1):
            for scale in range(self.num_scales):
                counts[layer][scale] = sum(counts[layer + 1][target] for target in self._next_scales(scale))
        return counts

    def _on_some_path(self, layer: int, source: int, target: int) -> bool:
        # A path reaches (layer - 1, source) from (0, 0) exactly when source <= layer - 1, since a path moves at
        # most one scale per layer.
        if not (0 <= source < self.num_scales and 0 <= target < self.num_scales and source <= layer - 1):
            return False
        return self._paths_to_output[layer][target] > 0

    def edge_candidates(self, edge: str) -> tuple[str, ...]:
        source, target = self._edge_scales(edge)
        return (_edge_op(source, target),)

    def _edge_scales(self, edge: str) -> tuple[int, int]:
        source, target = edge.split("/scale", 1)[1].split("_to_scale")
        return int(source), int(target)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "width": self.width,
            "num_layers": self.num_layers,
            "num_scales": self.num_scales,
            "output_scale": self.output_scale,
            "channel_growth": self.channel_growth,
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
        }

    # Paths and architectures -----------------------------------------------------------------------

    def path_edges(self, path: Path) -> list[str]:
        return [fabric_edge_key(layer, path[layer - 1], path[layer]) for layer in range(1, self.num_layers)]

    def _path_matrix(self, path: Path) -> np.ndarray:
        matrix = np.zeros((len(self.edges), len(self.ops)), dtype=bool)
        for edge in self.path_edges(path):
            source, target = self._edge_scales(edge)
            matrix[self._edge_index[edge], self.ops.index(_edge_op(source, target))] = True
        return matrix

    def from_path(self, path: Sequence[int]) -> Architecture:
        """Build the architecture of ``path``, the scale at each layer from layer 0 to the last."""
        path = [int(scale) if isinstance(scale, np.integer) else scale for scale in path]
        if not self._is_path(path):
            raise ArchitectureError(
                f"Scales {path} are not a fabric path: it needs {self.num_layers} scales in [0, "
                f"{self.num_scales - 1}], starting at 0, ending at {self.output_scale}, changing by at most 1 per layer."
            )
        return Architecture(self.edges, self.ops, self._path_matrix(path))

    def _is_path(self, path: Sequence[int]) -> bool:
        if len(path) != self.num_layers or path[0] != 0 or path[-1] != self.output_scale:
            return False
        in_range = all(isinstance(scale, int) and 0 <= scale < self.num_scales for scale in path)
        return in_range and all(abs(b - a) <= 1 for a, b in zip(path, path[1:]))

    def to_path(self, arch: Architecture) -> Path:
        """Return the scale at each layer of a valid single-path architecture."""
        self.validate(arch)
        path = [0]
        for layer in range(1, self.num_layers):
            _, target = self._edge_scales(self._active_edges(arch, layer)[0])
            path.append(target)
        return path

    def _active_edges(self, arch: Architecture, layer: int) -> list[str]:
        prefix = f"layer{layer}/"
        return [edge for edge, row in zip(self.edges, arch.matrix) if edge.startswith(prefix) and row.any()]

    def validate(self, arch: Architecture) -> None:
        """Raise ``ArchitectureError`` unless ``arch`` is one connected path from the input node to the output node."""
        self._check_axes(arch)
        for edge, row in zip(self.edges, arch.matrix):
            active = [op for op, on in zip(self.ops, row) if on]
            allowed = self.edge_candidates(edge)
            if active and active != list(allowed):
                raise ArchitectureError(
                    f"Edge {edge!r}: operations {active} are not allowed here. Allowed: {allowed[0]!r} or null."
                )

        scale = 0
        for layer in range(1, self.num_layers):
            active = self._active_edges(arch, layer)
            if len(active) != 1:
                raise ArchitectureError(
                    f"Fabric path is broken at layer {layer}: it has {len(active)} active edges {active}, and a path "
                    f"needs exactly one edge from layer {layer - 1} to layer {layer}."
                )
            source, target = self._edge_scales(active[0])
            if source != scale:
                raise ArchitectureError(
                    f"Fabric path is broken at layer {layer}: edge {active[0]!r} starts at scale {source}, but the "
                    f"path reaches layer {layer - 1} at scale {scale}."
                )
            scale = target
        # Every edge in self.edges leads to a node that can reach the output, so a connected path from (0, 0) ends
        # at the output scale. This check guards that invariant.
        if scale != self.output_scale:
            raise ArchitectureError(
                f"Fabric path ends at scale {scale} of layer {self.num_layers - 1}, but the output node is at scale "
                f"{self.output_scale}."
            )

    # Sampling --------------------------------------------------------------------------------------

    def _sample_path(self, rng: np.random.Generator) -> Path:
        # Each step picks the next scale with probability proportional to the paths that continue from it, so
        # every complete path has the same probability 1 / size().
        path = [0]
        for next_layer in range(1, self.num_layers):
            targets = self._next_scales(path[-1])
            weights = np.array([self._paths_to_output[next_layer][target] for target in targets], dtype=float)
            path.append(targets[rng.choice(len(targets), p=weights / weights.sum())])
        return path

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Draw a path uniformly from all input-to-output paths."""
        return self.from_path(self._sample_path(rng))

    def droppath_mask(self, rng: np.random.Generator, drop_prob: float) -> np.ndarray:
        """Drop each edge independently with ``drop_prob`` and keep the union of the surviving paths.

        Edges that no longer lie on a surviving input-to-output path are dropped too, so every active edge
        contributes to the output. Where no path survives, a path drawn uniformly is kept instead.
        """
        surviving = self.full_mask() & (rng.random(len(self.edges)) >= drop_prob)[:, None]
        connected = self._prune_to_paths(surviving)
        if not connected.any():
            connected = self._path_matrix(self._sample_path(rng))
        return connected

    def _prune_to_paths(self, mask: np.ndarray) -> np.ndarray:
        active = {edge for edge, row in zip(self.edges, mask) if row.any()}
        reached = [{0}]
        for layer in range(1, self.num_layers):
            reached.append({
                target
                for source in reached[-1]
                for target in self._next_scales(source)
                if fabric_edge_key(layer, source, target) in active
            })
        reaching = [set() for _ in range(self.num_layers)]
        reaching[-1] = {self.output_scale} & reached[-1]
        for layer in range(self.num_layers - 1, 0, -1):
            reaching[layer - 1] = {
                source
                for source in reached[layer - 1]
                for target in self._next_scales(source)
                if target in reaching[layer] and fabric_edge_key(layer, source, target) in active
            }
        pruned = np.zeros_like(mask)
        for layer in range(1, self.num_layers):
            for source in reaching[layer - 1]:
                for target in self._next_scales(source):
                    key = fabric_edge_key(layer, source, target)
                    if target in reaching[layer] and key in active:
                        pruned[self._edge_index[key]] = mask[self._edge_index[key]]
        return pruned

    def size(self) -> int:
        """Return the number of input-to-output paths, counted by dynamic programming over the lattice."""
        return self._paths_to_output[0][0]

    def enumerate(self) -> Iterator[Architecture]:
        """Yield every path once, in lexicographic order of its scales."""
        def extend(path: Path) -> Iterator[Path]:
            if len(path) == self.num_layers:
                yield path
                return
            for target in self._next_scales(path[-1]):
                if self._paths_to_output[len(path)][target] > 0:
                    yield from extend(path + [target])

        for path in extend([0]):
            yield self.from_path(path)

    def mutate(self, arch: Architecture, rng: np.random.Generator, prob: float | None = None) -> Architecture:
        """Move each inner node of the path to another scale with probability ``prob`` (default 1 / inner nodes).

        A node may move only to a scale adjacent to both of its neighbours on the path, so the result is a
        path. At least one node moves. If no inner node can move, a different path is drawn uniformly.
        """
        path = self.to_path(arch)
        if self.size() == 1:
            return arch
        inner = list(range(1, self.num_layers - 1))
        prob = 1.0 / max(1, len(inner)) if prob is None else prob
        chosen = [layer for layer in inner if rng.random() < prob]
        if not chosen and inner:
            chosen = [inner[rng.integers(len(inner))]]
        mutated = list(path)
        for layer in chosen:
            options = self._moves(mutated, layer)
            if options:
                mutated[layer] = options[rng.integers(len(options))]
        if mutated == path:
            movable = [layer for layer in inner if self._moves(mutated, layer)]
            if movable:
                layer = movable[rng.integers(len(movable))]
                options = self._moves(mutated, layer)
                mutated[layer] = options[rng.integers(len(options))]
        while mutated == path:
            mutated = self._sample_path(rng)
        return self.from_path(mutated)

    def _moves(self, path: Path, layer: int) -> list[int]:
        return [
            scale
            for scale in range(self.num_scales)
            if scale != path[layer] and abs(scale - path[layer - 1]) <= 1 and abs(scale - path[layer + 1]) <= 1
        ]

    def crossover(self, first: Architecture, second: Architecture, rng: np.random.Generator) -> Architecture:
        """Join the parents at the nodes they share: each segment between shared nodes comes from either parent."""
        a, b = self.to_path(first), self.to_path(second)
        child, take_first = [0], True
        for layer in range(1, self.num_layers):
            if a[layer - 1] == b[layer - 1]:
                take_first = rng.random() < 0.5
            child.append(a[layer] if take_first else b[layer])
        return self.from_path(child)

    # Networks --------------------------------------------------------------------------------------

    def _network(self, edges: dict[str, nn.Module]) -> FabricNetwork:
        return FabricNetwork(
            self.in_channels, self.num_classes, self.channels, self.num_layers, self.output_scale, edges
        )

    def _build_edge_op(self, edge: str) -> nn.Module:
        source, target = self._edge_scales(edge)
        stride = 2 if target > source else 1
        return ReLUConvBN(self.channels[source], self.channels[target], 3, stride=stride)

    def build_supernet(self) -> Supernet:
        mixed = {edge: MixedEdge({self.edge_candidates(edge)[0]: self._build_edge_op(edge)}) for edge in self.edges}
        return Supernet(self._network(mixed), self.edges, self.ops, {edge: [module] for edge, module in mixed.items()})

    def build_standalone(self, arch: Architecture) -> nn.Module:
        """Build the network of one path: the stem, the path's edges and the head."""
        path = self.to_path(arch)
        return self._network({edge: self._build_edge_op(edge) for edge in self.path_edges(path)})
