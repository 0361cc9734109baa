"""The ranking file: one row per scored architecture, written as it is scored, and resumed after a crash."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from lightning_oneshot.errors import ConfigError
from lightning_oneshot.spaces.architecture import Architecture

log = logging.getLogger(__name__)

COLUMNS = ("rank", "hash", "architecture", "oneshot_val_accuracy", "params", "flops", "status")
# A score that is NaN or infinite is recorded with this status, gets no rank and comes after every ranked row.
FAILED = "failed"
OK = "ok"


@dataclass
class RankingEntry:
    hash: str
    architecture: str  # the readable form as JSON
    oneshot_val_accuracy: float
    params: int
    flops: int | None = None
    rank: int | None = None
    status: str = OK


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


class RankingWriter:
    """Appends one CSV row per scored architecture and flushes it to disk, then rewrites the file ranked.

    While scoring runs, ``rank`` is empty and rows are in scoring order. ``finalize`` replaces the file
    atomically with the scored rows sorted by one-shot accuracy (best first, ties broken by hash) and ranks
    filled, followed by the failed rows. With ``resume=True`` the rows of an earlier, interrupted run are
    kept (a half-written last row is dropped) and ``scored`` contains their hashes, so they are not scored again.
    """

    def __init__(self, path: str | Path, resume: bool = False) -> None:
        self.path = Path(path)
        self.entries: list[RankingEntry] = read_partial_ranking(self.path) if resume and self.path.exists() else []
        if self.entries:
            # Rewrite without the dropped half row before appending, so that new rows start on a line of their own.
            write_ranking(self.path, self.entries, with_json=False)
            self._file = self.path.open("a", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
        else:
            self._file = self.path.open("w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
            self._writer.writeheader()
        self._sync()

    @property
    def scored(self) -> set[str]:
        return {entry.hash for entry in self.entries}

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def add(self, arch: Architecture, accuracy: float, params: int, flops: int | None = None) -> RankingEntry:
        status = OK if math.isfinite(accuracy) else FAILED
        entry = RankingEntry(arch.hash, arch.to_json(), accuracy, params, flops, status=status)
        self.entries.append(entry)
        self._writer.writerow(asdict(entry))
        self._sync()
        return entry

    def finalize(self) -> list[RankingEntry]:
        self._file.close()
        scored = sorted((e for e in self.entries if e.status == OK), key=lambda e: (-e.oneshot_val_accuracy, e.hash))
        failed = sorted((e for e in self.entries if e.status != OK), key=lambda e: e.hash)
        for rank, entry in enumerate(scored, start=1):
            entry.rank = rank
        for entry in failed:
            entry.rank = None
        write_ranking(self.path, scored + failed)
        return scored + failed


def write_ranking(path: Path, entries: list[RankingEntry], with_json: bool = True) -> None:
    temporary = path.with_suffix(".csv.tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for entry in entries:
            writer.writerow(asdict(entry))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    if with_json:
        path.with_suffix(".json").write_text(json.dumps([asdict(entry) for entry in entries], indent=2))


def _parse_row(row: dict[str, str]) -> RankingEntry:
    return RankingEntry(
        hash=row["hash"],
        architecture=row["architecture"],
        oneshot_val_accuracy=float(row["oneshot_val_accuracy"]),
        params=int(row["params"]),
        flops=int(row["flops"]) if row.get("flops") else None,
        rank=int(row["rank"]) if row["rank"] else None,
        status=row.get("status") or OK,
    )


def read_ranking(path: str | Path) -> list[RankingEntry]:
    with Path(path).open(newline="") as handle:
        return [_parse_row(row) for row in csv.DictReader(handle)]


def read_partial_ranking(path: Path) -> list[RankingEntry]:
    """Read the rows of a ranking file that an interrupted run left behind.

    Every row was flushed and synced whole, so only the last line can be incomplete: it is dropped when the
    file does not end with a line break. Any other row that cannot be parsed means the file was changed by
    hand or is not a ranking, and raises ``ConfigError``.
    """
    text = path.read_text()
    if text and not text.endswith("\n"):
        dropped = text[text.rfind("\n") + 1 :]
        text = text[: text.rfind("\n") + 1]
        log.warning("Dropped the half-written last row of %s: %r", path, dropped[:80])

    reader = csv.DictReader(io.StringIO(text, newline=""))
    entries = []
    for line, row in enumerate(reader, start=2):
        try:
            if None in row or None in row.values():
                raise ValueError(f"expected the columns {', '.join(COLUMNS)}")
            entries.append(_parse_row(row))
        except (KeyError, ValueError) as error:
            raise ConfigError(
                f"evaluation.resume: cannot resume from {path}, line {line} is not a valid ranking row ({error}). "
                f"Delete the file or set evaluation.resume=false to score every architecture again."
            ) from error
    return entries
