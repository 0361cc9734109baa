"""Architectures: discrete points of a search space, stored as edge-by-operation matrices."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Union

import numpy as np
import torch
import yaml

EdgeChoice = Union[str, list[str], None]


class ArchitectureError(ValueError):
    """Raised when an architecture or mask does not fit its search space."""


def _format_names(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


class Architecture:
    """A binary edge-by-operation matrix: entry (i, j) is 1 when operation ``ops[j]`` is active on ``edges[i]``.

    A single-path architecture has exactly one active operation per edge. A row may be empty where a
    search space allows unused edges (DARTS inputs that are not chosen, fabric edges off the path), and
    a DropPath mask may have several active operations per row. Search spaces apply their own rules in
    ``SearchSpace.validate``.

    The readable form maps each edge key to an operation name, a list of names or ``None``. It
    round-trips through YAML and JSON, and ``hash`` is computed from it with sorted keys, so the hash
    does not depend on key order.
    """

    def __init__(self, edges: Sequence[str], ops: Sequence[str], matrix: np.ndarray | torch.Tensor) -> None:
        self.edges = tuple(edges)
        self.ops = tuple(ops)
        try:
            array = matrix.detach().cpu().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix)
        except ValueError as error:
            raise ArchitectureError(f"Architecture matrix is not rectangular: {error}") from error
        expected = (len(self.edges), len(self.ops))
        if array.shape != expected:
            raise ArchitectureError(
                f"Architecture matrix has shape {tuple(array.shape)}, expected {expected}: one row per edge "
                f"({_format_names(self.edges)}) and one column per operation ({_format_names(self.ops)})."
            )
        if array.dtype.kind not in "biuf":
            sample = [value for value in np.unique(array.astype(str)) if value not in ("0", "1")][:5]
            raise ArchitectureError(f"Architecture matrix must be binary (0 or 1), found values {sample}.")
        if array.dtype != np.bool_:
            if not np.isin(array, (0, 1)).all():
                bad = sorted({float(value) for value in np.unique(array) if value not in (0, 1)})
                raise ArchitectureError(f"Architecture matrix must be binary (0 or 1), found values {bad[:5]}.")
            array = array.astype(bool)
        self.matrix = array.copy()
        self.matrix.setflags(write=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, EdgeChoice], edges: Sequence[str], ops: Sequence[str]) -> Architecture:
        """Parse the readable form; every edge must be present and every name must be known."""
        if not isinstance(data, Mapping):
            raise ArchitectureError(
                f"An architecture must be a mapping from edge to operation, got {type(data).__name__}."
            )
        unknown = [key for key in data if key not in edges]
        missing = [edge for edge in edges if edge not in data]
        if unknown or missing:
            parts = []
            if unknown:
                parts.append(f"unknown edges: {_format_names(unknown)}")
            if missing:
                parts.append(f"missing edges: {_format_names(missing)}")
            raise ArchitectureError(
                f"Architecture does not match the search space ({'; '.join(parts)}). "
                f"Allowed edges: {_format_names(edges)}."
            )

        matrix = np.zeros((len(edges), len(ops)), dtype=bool)
        for row, edge in enumerate(edges):
            choice = data[edge]
            if choice is None:
                names = []
            elif isinstance(choice, str):
                names = [choice]
            else:
                names = choice
            if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
                raise ArchitectureError(
                    f"Edge {edge!r}: expected an operation name, a list of names or null, got {choice!r}."
                )
            for name in names:
                if name not in ops:
                    raise ArchitectureError(
                        f"Edge {edge!r}: unknown operation {name!r}. Allowed operations: {_format_names(ops)}."
                    )
                matrix[row, ops.index(name)] = True
        return cls(edges, ops, matrix)

    def to_dict(self) -> dict[str, EdgeChoice]:
        """Return the readable form: edge -> operation name, list of names, or None for an unused edge."""
        readable: dict[str, EdgeChoice] = {}
        for edge, row in zip(self.edges, self.matrix):
            names = [op for op, active in zip(self.ops, row) if active]
            readable[edge] = names[0] if len(names) == 1 else (names or None)
        return readable

    def active_ops(self, edge: str) -> list[str]:
        row = self.matrix[self.edges.index(edge)]
        return [op for op, active in zip(self.ops, row) if active]

    @property
    def hash(self) -> str:
        """A short SHA-1 of the readable form with sorted keys, stable across processes and key order."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(canonical.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def save(self, path: str | Path) -> None:
        """Write the readable form as YAML, with edges in the space's order."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def as_tensor(self) -> torch.Tensor:
        return torch.from_numpy(self.matrix.copy())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Architecture):
            return NotImplemented
        return self.edges == other.edges and self.ops == other.ops and bool((self.matrix == other.matrix).all())

    def __hash__(self) -> int:
        return hash(self.hash)

    def __repr__(self) -> str:
        return f"Architecture({self.to_dict()})"


def load_architecture_file(path: str | Path) -> dict | list:
    """Read an architecture file (YAML or JSON): the readable mapping, or the matrix as a list of rows."""
    path = Path(path)
    if not path.is_file():
        raise ArchitectureError(f"Architecture file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ArchitectureError(f"Architecture file {path} is not valid YAML or JSON: {error}") from error
    if not isinstance(data, (dict, list)):
        raise ArchitectureError(
            f"Architecture file {path} must contain a mapping from edge to operation or a 0/1 matrix with one "
            f"row per edge, got {type(data).__name__}."
        )
    return data
