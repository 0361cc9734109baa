"""The DARTS search space (Liu et al. 2019, "DARTS: Differentiable Architecture Search"), trained one-shot.

A network stacks ``num_cells`` cells. The cells at one third and two thirds of the depth are reduction cells,
which halve the resolution and double the width, and all others are normal cells. A cell has two inputs, the
outputs of the previous two cells (nodes 0 and 1), and ``num_nodes`` intermediate nodes (2, 3, ...). Node k
sums two of its candidate edges ``edge_j_k`` (j < k), each through one operation, and the cell output
concatenates the intermediate nodes along channels. All normal cells share one architecture and all reduction
cells another, while each cell has its own weights.

Architecture rules:

- Edge keys are ``normal/edge_j_k`` and ``reduction/edge_j_k``. In an architecture, exactly two edges into
  each intermediate node have one operation, and every other edge is unused: an empty matrix row, null in the
  readable form.
- There is no zero operation ``none``. DARTS drops it when it derives the final cell, and here an unused edge
  already expresses it, so allowing it would count the same network many times.
- The size of the space is ``(prod over k = 2 .. num_nodes + 1 of C(k, 2) * len(ops) ** 2) ** 2``, the
  outer square for the two cell types: about 1.08e18 with 4 nodes and 7 operations.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from lightning_oneshot.spaces.architecture import Architecture, ArchitectureError
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.spaces.cell import cell_edge_key
from lightning_oneshot.spaces.darts_ops import DARTS_OPERATION_NAMES, FactorizedReduce, build_darts_operation
from lightning_oneshot.spaces.ops import ReLUConvBN
from lightning_oneshot.supernet import MixedEdge, Supernet

CELL_TYPES = ("normal", "reduction")

# One intermediate node's two inputs as (source node, operation) pairs, sorted by source.
NodeInputs = tuple[tuple[int, str], tuple[int, str]]
# The inputs of every intermediate node, keyed by (cell type, node index).
Genotype = dict[tuple[str, int], NodeInputs]


def darts_edge_key(cell_type: str, source: int, target: int) -> str:
    return f"{cell_type}/{cell_edge_key(source, target)}"


class DartsCell(nn.Module):
    """A DARTS cell: two preprocessed inputs, intermediate nodes that sum their incoming edges, channel concat.

    ``edges`` maps ``edge_j_k`` to a module: a ``MixedEdge`` in the supernet, the chosen operation in a
    standalone network. A missing key or a module that returns None adds nothing to its node.
    """

    def __init__(
        self,
        prev_prev_channels: int,
        prev_channels: int,
        channels: int,
        reduction_prev: bool,
        num_nodes: int,
        edges: dict[str, nn.Module],
    ) -> None:
        super().__init__()
        # The cell two steps back is at twice the resolution when the previous cell was a reduction cell.
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(prev_prev_channels, channels)
        else:
            self.preprocess0 = ReLUConvBN(prev_prev_channels, channels, 1)
        self.preprocess1 = ReLUConvBN(prev_channels, channels, 1)
        self.edges = nn.ModuleDict(edges)
        self._inputs = [
            [(source, cell_edge_key(source, target)) for source in range(target) if cell_edge_key(source, target) in edges]
            for target in range(2, num_nodes + 2)
        ]

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for target, inputs in enumerate(self._inputs, start=2):
            total, count = None, 0
            for source, key in inputs:
                module = self.edges[key]
                y = module(states[source])
                if y is not None:
                    total = y if total is None else total + y
                    count += len(module.active_names) if isinstance(module, MixedEdge) else 1
            if total is None:
                raise RuntimeError(
                    f"Node {target} of a DARTS cell has no active input. The mask must keep at least one "
                    f"operation on an edge into every intermediate node."
                )
            # Under DropPath a node can sum dozens of outputs, and without this rescaling the activations grow
            # from node to node until training diverges. A single path (two operations) is left unscaled.
            if count > 2:
                total = total * (2.0 / count)
            states.append(total)
        return torch.cat(states[2:], dim=1)


class DartsNetwork(nn.Module):
    """Stem, ``num_cells`` cells, global average pooling and a linear classifier."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int,
        num_nodes: int,
        stem_multiplier: int,
        reduction_cells: Sequence[int],
        num_cells: int,
        make_cell: Callable[[str, int, int, int, bool], DartsCell],
    ) -> None:
        super().__init__()
        stem_channels = stem_multiplier * width
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False), nn.BatchNorm2d(stem_channels)
        )
        cells = []
        prev_prev_channels, prev_channels, channels = stem_channels, stem_channels, width
        reduction_prev = False
        for index in range(num_cells):
            reduction = index in reduction_cells
            if reduction:
                channels *= 2
            cell_type = "reduction" if reduction else "normal"
            cells.append(make_cell(cell_type, prev_prev_channels, prev_channels, channels, reduction_prev))
            prev_prev_channels, prev_channels = prev_channels, num_nodes * channels
            reduction_prev = reduction
        self.cells = nn.ModuleList(cells)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(prev_channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.head(s1)


class DartsSpace(SearchSpace):
    """DARTS normal and reduction cells, in which each intermediate node takes two inputs through one operation each.

    Samples are uniform over valid cells: each node draws its pair of distinct inputs uniformly from the
    C(k, 2) pairs of earlier nodes and each input's operation uniformly from ``ops``.
    """

    name = "darts"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int = 16,
        num_cells: int = 8,
        num_nodes: int = 4,
        stem_multiplier: int = 3,
        ops: Sequence[str] = DARTS_OPERATION_NAMES,
    ) -> None:
        ops = tuple(ops)
        _check_ops(ops)
        if isinstance(width, bool) or not isinstance(width, int) or width < 2 or width % 2:
            # FactorizedReduce splits the channels of a reduction between two convolutions.
            raise ValueError(f"search_space.width must be an even integer >= 2, got {width!r}.")
        for key, value, minimum in (("num_cells", num_cells, 3), ("num_nodes", num_nodes, 1), ("stem_multiplier", stem_multiplier, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"search_space.{key} must be an integer >= {minimum}, got {value!r}.")

        edges = tuple(
            darts_edge_key(cell_type, source, target)
            for cell_type in CELL_TYPES
            for target in range(2, num_nodes + 2)
            for source in range(target)
        )
        super().__init__(edges, ops)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.width = width
        self.num_cells = num_cells
        self.num_nodes = num_nodes
        self.stem_multiplier = stem_multiplier
        # The positions DARTS uses. With num_cells >= 3 both cell types occur.
        self.reduction_cells = (num_cells // 3, 2 * num_cells // 3)
        self.nodes = [(cell_type, target) for cell_type in CELL_TYPES for target in range(2, num_nodes + 2)]

    def describe(self) -> dict:
        return {
            **super().describe(),
            "width": self.width,
            "num_cells": self.num_cells,
            "num_nodes": self.num_nodes,
            "stem_multiplier": self.stem_multiplier,
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
        }

    # Architectures ---------------------------------------------------------------------------------

    def _node_edges(self, cell_type: str, target: int) -> list[str]:
        return [darts_edge_key(cell_type, source, target) for source in range(target)]

    def validate(self, arch: Architecture) -> None:
        """Raise ``ArchitectureError`` unless every intermediate node has exactly two inputs with one operation each."""
        self._check_axes(arch)
        for edge in self.edges:
            active = arch.active_ops(edge)
            if len(active) > 1:
                raise ArchitectureError(
                    f"Edge {edge!r} has {len(active)} active operations {active}; an edge of an architecture has "
                    f"one operation, or none (null) when its node does not use it."
                )
        for cell_type, target in self.nodes:
            used = [edge for edge in self._node_edges(cell_type, target) if arch.active_ops(edge)]
            if len(used) != 2:
                listed = f" ({', '.join(used)})" if used else ""
                raise ArchitectureError(
                    f"Node {target} of the {cell_type} cell has {len(used)} inputs{listed}; "
                    f"every intermediate node takes exactly two inputs from distinct earlier nodes "
                    f"(one operation on each of two edges {cell_type}/edge_j_{target} with j < {target}, null on the others)."
                )

    def architecture(self, data: Architecture | Mapping | np.ndarray | torch.Tensor) -> Architecture:
        """Build and validate an architecture; ``none`` in the readable form is rejected with a hint to write null."""
        if isinstance(data, Mapping):
            for edge, choice in data.items():
                names = choice if isinstance(choice, (list, tuple)) else [choice]
                if "none" in names:
                    raise ArchitectureError(
                        f"Edge {edge!r}: 'none' is not an operation of the darts space. Write null for an edge "
                        f"that its node does not use. Allowed operations: {', '.join(self.ops)}."
                    )
        return super().architecture(data)

    def genotype(self, arch: Architecture) -> Genotype:
        """Return the two (source, operation) inputs of every intermediate node of a valid architecture."""
        self.validate(arch)
        genotype: Genotype = {}
        for cell_type, target in self.nodes:
            inputs = [
                (source, arch.active_ops(darts_edge_key(cell_type, source, target))[0])
                for source in range(target)
                if arch.active_ops(darts_edge_key(cell_type, source, target))
            ]
            genotype[cell_type, target] = (inputs[0], inputs[1])
        return genotype

    def from_genotype(self, genotype: Mapping[tuple[str, int], Sequence[tuple[int, str]]]) -> Architecture:
        """Build the architecture in which each node of ``genotype`` takes its listed (source, operation) inputs."""
        matrix = np.zeros((len(self.edges), len(self.ops)), dtype=bool)
        for (cell_type, target), inputs in genotype.items():
            for source, op in inputs:
                matrix[self.edges.index(darts_edge_key(cell_type, source, target)), self.ops.index(op)] = True
        arch = Architecture(self.edges, self.ops, matrix)
        self.validate(arch)
        return arch

    # Sampling --------------------------------------------------------------------------------------

    def _sample_node(self, target: int, rng: np.random.Generator) -> NodeInputs:
        first, second = sorted(int(source) for source in rng.choice(target, size=2, replace=False))
        first_op, second_op = (self.ops[int(index)] for index in rng.integers(len(self.ops), size=2))
        return (first, first_op), (second, second_op)

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Draw an architecture uniformly: a uniform pair of distinct inputs per node, a uniform operation per input."""
        return self.from_genotype({(cell_type, target): self._sample_node(target, rng) for cell_type, target in self.nodes})

    def droppath_mask(self, rng: np.random.Generator, drop_prob: float) -> np.ndarray:
        """Drop each (edge, operation) independently with ``drop_prob``, keeping every intermediate node fed.

        A node that receives more than two operation outputs scales their sum by 2 / count (see ``DartsCell``).

        Whole edges may be dropped, since DropPath trains the paths of the whole one-shot model and a node does
        not need all of its inputs. Where every operation on every edge into a node is dropped, one (edge,
        operation) pair of that node, drawn uniformly, is kept, so no node is left without input.
        """
        mask = self.full_mask() & (rng.random((len(self.edges), len(self.ops))) >= drop_prob)
        for cell_type, target in self.nodes:
            rows = [self.edges.index(edge) for edge in self._node_edges(cell_type, target)]
            if mask[rows].any():
                continue
            pick = int(rng.integers(len(rows) * len(self.ops)))
            mask[rows[pick // len(self.ops)], pick % len(self.ops)] = True
        return mask

    def size(self) -> int:
        per_cell = math.prod(math.comb(target, 2) * len(self.ops) ** 2 for target in range(2, self.num_nodes + 2))
        return per_cell ** len(CELL_TYPES)

    def _node_options(self, target: int) -> list[NodeInputs]:
        return [
            ((first, first_op), (second, second_op))
            for first, second in itertools.combinations(range(target), 2)
            for first_op in self.ops
            for second_op in self.ops
        ]

    def enumerate(self) -> Iterator[Architecture]:
        options = [self._node_options(target) for _, target in self.nodes]
        for combination in itertools.product(*options):
            yield self.from_genotype(dict(zip(self.nodes, combination)))

    def mutate(self, arch: Architecture, rng: np.random.Generator, prob: float | None = None) -> Architecture:
        """Change each node input with probability ``prob`` (default: 1 / number of inputs); at least one changes.

        A change replaces either the input's operation by another one or its source by an earlier node that the
        node does not use yet, drawn uniformly among the changes that are possible for that input.
        """
        genotype = {node: [list(pair) for pair in inputs] for node, inputs in self.genotype(arch).items()}
        slots = [(node, index) for node in self.nodes for index in (0, 1) if self._slot_changes(genotype, node, index)]
        if not slots:
            return arch
        prob = 1.0 / len(slots) if prob is None else prob
        picked = [slot for slot in slots if rng.random() < prob] or [slots[int(rng.integers(len(slots)))]]
        for node, index in picked:
            changes = self._slot_changes(genotype, node, index)
            kind, value = changes[int(rng.integers(len(changes)))]
            genotype[node][index][0 if kind == "source" else 1] = value
        return self.from_genotype({node: sorted(tuple(pair) for pair in inputs) for node, inputs in genotype.items()})

    def _slot_changes(self, genotype: dict, node: tuple[str, int], index: int) -> list[tuple[str, int | str]]:
        (source, op), (other_source, _) = genotype[node][index], genotype[node][1 - index]
        sources = [("source", new) for new in range(node[1]) if new not in (source, other_source)]
        ops = [("op", new) for new in self.ops if new != op]
        return sources + ops

    def crossover(self, first: Architecture, second: Architecture, rng: np.random.Generator) -> Architecture:
        """Take the two inputs of each node from either parent with equal probability."""
        from_first, from_second = self.genotype(first), self.genotype(second)
        return self.from_genotype(
            {node: from_first[node] if rng.random() < 0.5 else from_second[node] for node in self.nodes}
        )

    # Networks --------------------------------------------------------------------------------------

    def _network(self, make_cell: Callable[[str, int, int, int, bool], DartsCell]) -> DartsNetwork:
        return DartsNetwork(
            self.in_channels,
            self.num_classes,
            self.width,
            self.num_nodes,
            self.stem_multiplier,
            self.reduction_cells,
            self.num_cells,
            make_cell,
        )

    def build_supernet(self) -> Supernet:
        edge_modules: dict[str, list[MixedEdge]] = {edge: [] for edge in self.edges}

        def make_cell(cell_type: str, prev_prev: int, prev: int, channels: int, reduction_prev: bool) -> DartsCell:
            edges = {}
            for target in range(2, self.num_nodes + 2):
                for source in range(target):
                    stride = 2 if cell_type == "reduction" and source < 2 else 1
                    mixed = MixedEdge({op: build_darts_operation(op, channels, stride) for op in self.ops})
                    edge_modules[darts_edge_key(cell_type, source, target)].append(mixed)
                    edges[cell_edge_key(source, target)] = mixed
            return DartsCell(prev_prev, prev, channels, reduction_prev, self.num_nodes, edges)

        return Supernet(self._network(make_cell), self.edges, self.ops, edge_modules)

    def build_standalone(self, arch: Architecture) -> nn.Module:
        genotype = self.genotype(arch)

        def make_cell(cell_type: str, prev_prev: int, prev: int, channels: int, reduction_prev: bool) -> DartsCell:
            edges = {}
            for target in range(2, self.num_nodes + 2):
                for source, op in genotype[cell_type, target]:
                    stride = 2 if cell_type == "reduction" and source < 2 else 1
                    edges[cell_edge_key(source, target)] = build_darts_operation(op, channels, stride)
            return DartsCell(prev_prev, prev, channels, reduction_prev, self.num_nodes, edges)

        return self._network(make_cell)


def _check_ops(ops: tuple[str, ...]) -> None:
    if "none" in ops:
        raise ValueError(
            "search_space.ops: 'none' is not a candidate in the darts space, because every intermediate node takes "
            "exactly two inputs and an unused edge already plays the zero operation's part. Remove 'none' from "
            f"the list. Allowed operations: {', '.join(DARTS_OPERATION_NAMES)}."
        )
    unknown = [op for op in ops if op not in DARTS_OPERATION_NAMES]
    if unknown:
        raise ValueError(f"search_space.ops: unknown operations {unknown}. Allowed operations: {', '.join(DARTS_OPERATION_NAMES)}.")
    if not ops or len(set(ops)) != len(ops):
        raise ValueError(f"search_space.ops must be a non-empty list without repeats, got {list(ops)}.")
