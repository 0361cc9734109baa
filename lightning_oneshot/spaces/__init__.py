"""Search spaces, architectures and candidate operations."""

from lightning_oneshot.spaces.architecture import Architecture, ArchitectureError
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.spaces.cell import NB201Space
from lightning_oneshot.spaces.chain import ChainSpace
from lightning_oneshot.spaces.darts import DartsSpace
from lightning_oneshot.spaces.fabric import FabricSpace
from lightning_oneshot.spaces.hierarchical import HierarchicalSpace

__all__ = [
    "Architecture",
    "ArchitectureError",
    "ChainSpace",
    "DartsSpace",
    "FabricSpace",
    "HierarchicalSpace",
    "NB201Space",
    "SearchSpace",
]
