"""Search spaces, architectures and candidate operations."""

from lightning_oneshot.spaces.architecture import Architecture, ArchitectureError
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.spaces.cell import NB201Space

__all__ = ["Architecture", "ArchitectureError", "NB201Space", "SearchSpace"]
