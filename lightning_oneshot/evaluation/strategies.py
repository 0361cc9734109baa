"""Search strategies: which architectures the evaluation stage scores."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace

log = logging.getLogger(__name__)

# Give up drawing new distinct architectures after this many draws per requested sample. Only reached
# when the space is barely larger than the request.
_MAX_DRAWS_PER_SAMPLE = 1000


def random_architectures(space: SearchSpace, num_samples: int, seed: int) -> Iterator[Architecture]:
    """Yield ``num_samples`` distinct architectures drawn uniformly, or every architecture if the space is smaller.

    The sequence depends only on the space and ``seed``.
    """
    if num_samples < 1:
        raise ValueError(f"evaluation.num_samples must be >= 1, got {num_samples}.")
    size = space.size()
    if size <= num_samples:
        log.info("The space has %d architectures, not more than evaluation.num_samples=%d: scoring all.", size, num_samples)
        yield from space.enumerate()
        return

    rng = np.random.default_rng([seed, 2])
    seen: set[str] = set()
    for _ in range(num_samples * _MAX_DRAWS_PER_SAMPLE):
        arch = space.sample(rng)
        if arch.hash in seen:
            continue
        seen.add(arch.hash)
        yield arch
        if len(seen) == num_samples:
            return
    log.warning("Found only %d distinct architectures after many draws; scoring those.", len(seen))
