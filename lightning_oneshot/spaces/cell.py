"""Cell-based search spaces: a DAG cell stacked into a network, in the style of NAS-Bench-201."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.spaces.ops import CELL_OPERATION_NAMES, ResidualReductionBlock, build_cell_operation
from lightning_oneshot.supernet import MixedEdge, Supernet


def cell_edge_key(source: int, target: int) -> str:
    return f"edge_{source}_{target}"


class Cell(nn.Module):
    """A DAG over ``num_nodes`` nodes. Node 0 is the cell input and node k sums ``edge(j, k)(node j)`` over j < k.

    ``edges`` maps edge keys to modules. A missing key or a module that returns None contributes nothing.
    A node with no contribution is zero, the same as a sum over zero operations. The last node is the output.
    """

    def __init__(self, num_nodes: int, edges: dict[str, nn.Module]) -> None:
        super().__init__()
        self.num_nodes = num_nodes
        self.edges = nn.ModuleDict(edges)
        self._inputs = [
            [(source, cell_edge_key(source, target)) for source in range(target) if cell_edge_key(source, target) in edges]
            for target in range(num_nodes)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in range(1, self.num_nodes):
            total = None
            for source, key in self._inputs[target]:
                y = self.edges[key](nodes[source])
                if y is not None:
                    total = y if total is None else total + y
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]


class CellNetwork(nn.Module):
    """Stem, stages of cells joined by residual reduction blocks, and a global-pool classifier head."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int,
        num_stages: int,
        cells_per_stage: int,
        make_cell: Callable[[int], Cell],
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))
        layers: list[nn.Module] = []
        channels = width
        for stage in range(num_stages):
            if stage > 0:
                layers.append(ResidualReductionBlock(channels, channels * 2))
                channels *= 2
            layers.extend(make_cell(channels) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))


class NB201Space(SearchSpace):
    """A NAS-Bench-201-style space (Dong & Yang 2020): one cell of ``num_nodes`` nodes, every edge j < k.

    The same cell architecture is used in every stacked cell, while each cell has its own weights. The
    architecture has one row per cell edge (``edge_j_k``) and one column per operation.
    """

    name = "nb201"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int = 16,
        num_stages: int = 3,
        cells_per_stage: int = 1,
        num_nodes: int = 4,
        ops: Sequence[str] = ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"),
    ) -> None:
        unknown = [op for op in ops if op not in CELL_OPERATION_NAMES]
        if unknown:
            raise ValueError(
                f"search_space.ops: unknown operations {unknown}. Allowed operations: {', '.join(CELL_OPERATION_NAMES)}."
            )
        if len(set(ops)) != len(ops) or not ops:
            raise ValueError(f"search_space.ops must be a non-empty list without repeats, got {list(ops)}.")
        for key, value, minimum in (
            ("width", width, 1),
            ("num_stages", num_stages, 1),
            ("cells_per_stage", cells_per_stage, 1),
            ("num_nodes", num_nodes, 2),
        ):
            if not isinstance(value, int) or value < minimum:
                raise ValueError(f"search_space.{key} must be an integer >= {minimum}, got {value!r}.")
        edges = tuple(cell_edge_key(j, k) for k in range(1, num_nodes) for j in range(k))
        super().__init__(edges, tuple(ops))
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.width = width
        self.num_stages = num_stages
        self.cells_per_stage = cells_per_stage
        self.num_nodes = num_nodes

    def describe(self) -> dict:
        return {
            **super().describe(),
            "width": self.width,
            "num_stages": self.num_stages,
            "cells_per_stage": self.cells_per_stage,
            "num_nodes": self.num_nodes,
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
        }

    def _network(self, make_cell: Callable[[int], Cell]) -> CellNetwork:
        return CellNetwork(
            self.in_channels, self.num_classes, self.width, self.num_stages, self.cells_per_stage, make_cell
        )

    def build_supernet(self) -> Supernet:
        edge_modules: dict[str, list[MixedEdge]] = {edge: [] for edge in self.edges}

        def make_cell(channels: int) -> Cell:
            mixed = {edge: MixedEdge({op: build_cell_operation(op, channels) for op in self.ops}) for edge in self.edges}
            for edge, module in mixed.items():
                edge_modules[edge].append(module)
            return Cell(self.num_nodes, mixed)

        network = self._network(make_cell)
        return Supernet(network, self.edges, self.ops, edge_modules)

    def build_standalone(self, arch: Architecture) -> nn.Module:
        self.validate(arch)
        choices = self._choices(arch)

        def make_cell(channels: int) -> Cell:
            modules = {edge: build_cell_operation(op, channels) for edge, op in choices.items()}
            return Cell(self.num_nodes, {edge: module for edge, module in modules.items() if module is not None})

        return self._network(make_cell)
