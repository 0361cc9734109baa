"""The hierarchical search space of Liu et al. 2018, "Hierarchical Representations for Efficient Architecture
Search".

Level-1 primitives are single operations. Each of ``num_motifs`` level-2 motifs is a small DAG whose edges choose
among the primitives, and the level-3 motif is a DAG whose edges choose among the level-2 motifs. The level-3
motif is the cell that the network stacks.

Weight sharing works at both levels. Every level-3 edge owns one copy of every level-2 motif, and every edge of
that copy owns one module per primitive. Architectures that choose the same motif on the same level-3 edge share
that motif copy, and architectures that also choose the same primitive on the same motif edge share its weights.
Two level-3 edges that choose the same motif share the motif's architecture (its matrix rows) but not its
weights. This matches the standalone network, in which each use of a motif is a separate layer with its own
weights and BatchNorm statistics.

``none`` is the zero operation at both levels: on a motif edge it removes the edge from the motif, and on a
level-3 edge it removes the edge from the cell. A node with no remaining input is zero.

Nodes sum their inputs, as in the other cell spaces of this package, so every node keeps the channel count of
the cell. Liu et al. merge the inputs of a node by depthwise concatenation instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.spaces.cell import Cell, CellNetwork, cell_edge_key
from lightning_oneshot.spaces.ops import ZERO_OP, ReLUConvBN
from lightning_oneshot.supernet import MixedEdge, Supernet

LEVEL3 = "level3"


class DepthwiseConvBN(nn.Sequential):
    """ReLU, then a 3x3 depthwise convolution (one filter per channel) without bias, then BatchNorm."""

    def __init__(self, channels: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
        )


class SeparableConvBN(nn.Sequential):
    """ReLU, then a 3x3 depthwise and a 1x1 pointwise convolution without bias, then BatchNorm.

    It is applied once, unlike the DARTS separable convolution, which stacks two of these.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )


# Level-1 primitives keyed by name; each factory takes the channel count and keeps the shape of its input.
PRIMITIVES: dict[str, Callable[[int], nn.Module]] = {
    "conv_1x1": lambda channels: ReLUConvBN(channels, channels, 1),
    "dw_conv_3x3": DepthwiseConvBN,
    "sep_conv_3x3": SeparableConvBN,
    "max_pool_3x3": lambda channels: nn.MaxPool2d(3, stride=1, padding=1),
    "avg_pool_3x3": lambda channels: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
    "skip_connect": lambda channels: nn.Identity(),
}

PRIMITIVE_NAMES: tuple[str, ...] = (ZERO_OP, *PRIMITIVES)


def motif_name(index: int) -> str:
    return f"motif{index}"


def _build_primitive(name: str, channels: int) -> nn.Module | None:
    return None if name == ZERO_OP else PRIMITIVES[name](channels)


def _dag_edges(num_nodes: int) -> list[str]:
    return [cell_edge_key(source, target) for target in range(1, num_nodes) for source in range(target)]


class HierarchicalSpace(SearchSpace):
    """Level-2 motifs built from primitives, and a level-3 cell built from the motifs (Liu et al. 2018).

    The architecture has rows ``motif<m>/edge_j_k`` (the edge from node j to node k of level-2 motif m, choosing
    among ``primitives``) and rows ``level3/edge_j_k`` (choosing among ``motif0 .. motif<M-1>``, plus ``none``
    when ``level3_none`` is true). The columns are the primitives followed by the motif names, and
    ``edge_candidates`` restricts each row to its level. The matrices of motifs that the level-3 cell does not
    select still belong to the architecture, as in the paper's genotype, so ``size`` counts them.
    """

    name = "hierarchical"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int = 16,
        num_stages: int = 3,
        cells_per_stage: int = 1,
        num_motifs: int = 6,
        motif_nodes: int = 4,
        level3_nodes: int = 5,
        primitives: Sequence[str] = PRIMITIVE_NAMES,
        level3_none: bool = True,
    ) -> None:
        primitives = tuple(primitives)
        unknown = [op for op in primitives if op not in PRIMITIVE_NAMES]
        if unknown:
            raise ValueError(
                f"search_space.primitives: unknown operations {unknown}. "
                f"Allowed operations: {', '.join(PRIMITIVE_NAMES)}."
            )
        if not primitives or len(set(primitives)) != len(primitives):
            raise ValueError(f"search_space.primitives must be a non-empty list without repeats, got {list(primitives)}.")
        for key, value, minimum in (
            ("width", width, 1),
            ("num_stages", num_stages, 1),
            ("cells_per_stage", cells_per_stage, 1),
            ("num_motifs", num_motifs, 1),
            ("motif_nodes", motif_nodes, 2),
            ("level3_nodes", level3_nodes, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"search_space.{key} must be an integer >= {minimum}, got {value!r}.")
        if not isinstance(level3_none, bool):
            raise ValueError(f"search_space.level3_none must be true or false, got {level3_none!r}.")

        self.primitives = primitives
        self.motifs = tuple(motif_name(index) for index in range(num_motifs))
        self.motif_edges = _dag_edges(motif_nodes)
        self.level3_edges = _dag_edges(level3_nodes)
        edges = tuple(
            [f"{motif}/{edge}" for motif in self.motifs for edge in self.motif_edges]
            + [f"{LEVEL3}/{edge}" for edge in self.level3_edges]
        )
        # "none" is one column that means "no edge" at both levels.
        ops = (*primitives, *self.motifs)
        if level3_none and ZERO_OP not in primitives:
            ops = (ZERO_OP, *ops)
        super().__init__(edges, ops)

        self.level3_candidates = (ZERO_OP, *self.motifs) if level3_none else self.motifs
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.width = width
        self.num_stages = num_stages
        self.cells_per_stage = cells_per_stage
        self.motif_nodes = motif_nodes
        self.level3_nodes = level3_nodes
        self.level3_none = level3_none

    def edge_candidates(self, edge: str) -> tuple[str, ...]:
        return self.level3_candidates if edge.startswith(f"{LEVEL3}/") else self.primitives

    def describe(self) -> dict:
        return {
            **super().describe(),
            "width": self.width,
            "num_stages": self.num_stages,
            "cells_per_stage": self.cells_per_stage,
            "motif_nodes": self.motif_nodes,
            "level3_nodes": self.level3_nodes,
            "level3_none": self.level3_none,
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
        }

    def _network(self, make_cell: Callable[[int], Cell]) -> CellNetwork:
        return CellNetwork(
            self.in_channels, self.num_classes, self.width, self.num_stages, self.cells_per_stage, make_cell
        )

    def build_supernet(self) -> Supernet:
        edge_modules: dict[str, list[MixedEdge]] = {edge: [] for edge in self.edges}

        def make_motif(motif: str, channels: int) -> Cell:
            mixed = {}
            for edge in self.motif_edges:
                mixed[edge] = MixedEdge({op: _build_primitive(op, channels) for op in self.primitives}, average=True)
                edge_modules[f"{motif}/{edge}"].append(mixed[edge])
            return Cell(self.motif_nodes, mixed)

        def make_cell(channels: int) -> Cell:
            mixed = {}
            for edge in self.level3_edges:
                candidates = {motif: make_motif(motif, channels) for motif in self.motifs}
                if self.level3_none:
                    candidates = {ZERO_OP: None, **candidates}
                mixed[edge] = MixedEdge(candidates, average=True)
                edge_modules[f"{LEVEL3}/{edge}"].append(mixed[edge])
            return Cell(self.level3_nodes, mixed)

        return Supernet(self._network(make_cell), self.edges, self.ops, edge_modules)

    def build_standalone(self, arch: Architecture) -> nn.Module:
        """Build the network of ``arch``: each level-3 edge becomes its own copy of the motif it selects."""
        self.validate(arch)
        choices = self._choices(arch)

        def make_motif(motif: str, channels: int) -> Cell:
            modules = {edge: _build_primitive(choices[f"{motif}/{edge}"], channels) for edge in self.motif_edges}
            return Cell(self.motif_nodes, {edge: module for edge, module in modules.items() if module is not None})

        def make_cell(channels: int) -> Cell:
            modules = {}
            for edge in self.level3_edges:
                motif = choices[f"{LEVEL3}/{edge}"]
                if motif != ZERO_OP:
                    modules[edge] = make_motif(motif, channels)
            return Cell(self.level3_nodes, modules)

        return self._network(make_cell)
