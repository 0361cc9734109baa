"""Weight-sharing building blocks: edges that hold every candidate operation and run only the active ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from lightning_oneshot.spaces.architecture import Architecture


class MixedEdge(nn.Module):
    """One edge of the supernet, owning one module per candidate operation.

    Only the operations named by the current mask run in ``forward``, so the others are not computed, get no
    gradient, and keep their weights and BatchNorm statistics. Operations without a module (the zero
    operation) contribute nothing. ``forward`` returns None when nothing on the edge is active, and the
    node that consumes the edge then ignores it.
    """

    def __init__(self, candidates: Mapping[str, nn.Module | None], average: bool = False) -> None:
        super().__init__()
        # With `average`, several active operations give their mean instead of their sum. Deeply nested spaces
        # need it under DropPath, where sums of sums grow until activations overflow. One active operation
        # is returned as it is, so a single path still equals its standalone network.
        self.average = average
        self.op_names = tuple(candidates)
        self.candidates = nn.ModuleDict({name: module for name, module in candidates.items() if module is not None})
        # A plain list, not a ModuleList: it only points at modules that `candidates` already registers.
        self._active: list[nn.Module] = []
        self.active_names: tuple[str, ...] = ()

    def set_active(self, names: Sequence[str]) -> None:
        names = tuple(names)
        if names == self.active_names:
            return  # Spaces with many edges switch few of them per step, so unchanged edges return early.
        unknown = [name for name in names if name not in self.op_names]
        if unknown:
            raise ValueError(f"Unknown operations {unknown} on this edge. Allowed operations: {list(self.op_names)}.")
        self.active_names = names
        self._active = [self.candidates[name] for name in names if name in self.candidates]

    def forward(self, x: torch.Tensor) -> torch.Tensor | None:
        out = None
        for op in self._active:
            y = op(x)
            out = y if out is None else out + y
        if self.average and len(self._active) > 1:
            out = out / len(self._active)
        return out


class Supernet(nn.Module):
    """A network whose architecture edges are ``MixedEdge`` modules, switched together by ``set_mask``.

    One architecture edge usually stands for several ``MixedEdge`` modules, for example the same cell edge
    in every stacked cell, so ``edge_modules`` maps each edge key to all of them.
    """

    def __init__(
        self,
        network: nn.Module,
        edges: Sequence[str],
        ops: Sequence[str],
        edge_modules: Mapping[str, Iterable[MixedEdge]],
    ) -> None:
        super().__init__()
        self.network = network
        self.edges = tuple(edges)
        self.ops = tuple(ops)
        self._edge_modules = {edge: list(edge_modules[edge]) for edge in self.edges}
        self.mask: torch.Tensor | None = None

    def set_mask(self, mask: np.ndarray | torch.Tensor | Architecture) -> None:
        """Activate, on every edge, the operations whose entry in the edge-by-operation mask is 1."""
        if isinstance(mask, Architecture):
            mask = mask.matrix
        rows = mask.tolist()
        if len(rows) != len(self.edges) or any(len(row) != len(self.ops) for row in rows):
            raise ValueError(
                f"Mask shape {tuple(np.shape(mask))} does not match ({len(self.edges)} edges, {len(self.ops)} operations)."
            )
        for edge, row in zip(self.edges, rows):
            names = [op for op, active in zip(self.ops, row) if active]
            for module in self._edge_modules[edge]:
                module.set_active(names)
        self.mask = torch.as_tensor(np.asarray(rows, dtype=bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mask is None:
            raise RuntimeError("Supernet.forward called before set_mask: no operation is active.")
        return self.network(x)


def inherit_weights(standalone: nn.Module, supernet: Supernet) -> None:
    """Copy the weights of the currently active single path of ``supernet`` into ``standalone``.

    The standalone network must mirror the supernet's module tree, with each ``MixedEdge`` replaced by its one
    active operation (or left out for the zero operation). Edges may nest, as in hierarchical spaces whose
    operations are themselves cells of mixed edges.
    """
    replacements: list[tuple[str, str]] = []
    for path, module in supernet.network.named_modules():
        if isinstance(module, MixedEdge) and module.active_names:
            if len(module.active_names) != 1:
                raise ValueError(f"Edge module {path} has {len(module.active_names)} active operations; need one.")
            replacements.append((f"{path}.", f"{path}.candidates.{module.active_names[0]}."))

    source = supernet.network.state_dict()
    target = {}
    for key in standalone.state_dict():
        target[key] = source[_supernet_key(key, replacements)]
    standalone.load_state_dict(target)


def _supernet_key(key: str, replacements: list[tuple[str, str]]) -> str:
    """Map a standalone state-dict key to the supernet's by inserting ``candidates.<op>`` after each edge.

    Outer edges are rewritten first. The rewritten key then reaches the paths of edges nested inside the
    chosen operation, so the loop runs until no edge prefix is left to rewrite.
    """
    changed = True
    while changed:
        changed = False
        for prefix, replacement in replacements:
            if key.startswith(prefix) and not key.startswith(f"{prefix}candidates."):
                key = replacement + key[len(prefix):]
                changed = True
    return key
