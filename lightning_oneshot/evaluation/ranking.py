"""The ranking file: one row per scored architecture, written as it is scored."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace

COLUMNS = ("rank", "hash", "architecture", "oneshot_val_accuracy", "params", "flops")


@dataclass
class RankingEntry:
    hash: str
    architecture: str  # the readable form as JSON
    oneshot_val_accuracy: float
    params: int
    flops: int | None = None
    rank: int | None = None


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def standalone_parameters(space: SearchSpace, arch: Architecture) -> int:
    """The parameter count of the standalone network, built on the meta device so no memory is allocated."""
    with torch.device("meta"):
        return count_parameters(space.build_standalone(arch))


class RankingWriter:
    """Appends one CSV row per scored architecture and flushes it to disk, then rewrites the file ranked.

    While scoring runs, ``rank`` is empty and rows are in scoring order. ``finalize`` replaces the file
    atomically with all rows sorted by one-shot accuracy (best first, ties broken by hash) and ranks filled.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries: list[RankingEntry] = []
        self._file = self.path.open("w", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
        self._writer.writeheader()
        self._sync()

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def add(self, arch: Architecture, accuracy: float, params: int, flops: int | None = None) -> RankingEntry:
        entry = RankingEntry(arch.hash, arch.to_json(), accuracy, params, flops)
        self.entries.append(entry)
        self._writer.writerow(asdict(entry))
        self._sync()
        return entry

    def finalize(self) -> list[RankingEntry]:
        self._file.close()
        ranked = sorted(self.entries, key=lambda entry: (-entry.oneshot_val_accuracy, entry.hash))
        for rank, entry in enumerate(ranked, start=1):
            entry.rank = rank
        write_ranking(self.path, ranked)
        return ranked


def write_ranking(path: Path, entries: list[RankingEntry]) -> None:
    temporary = path.with_suffix(".csv.tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for entry in entries:
            writer.writerow(asdict(entry))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    path.with_suffix(".json").write_text(json.dumps([asdict(entry) for entry in entries], indent=2))


def read_ranking(path: str | Path) -> list[RankingEntry]:
    with Path(path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        RankingEntry(
            hash=row["hash"],
            architecture=row["architecture"],
            oneshot_val_accuracy=float(row["oneshot_val_accuracy"]),
            params=int(row["params"]),
            flops=int(row["flops"]) if row.get("flops") else None,
            rank=int(row["rank"]) if row["rank"] else None,
        )
        for row in rows
    ]
