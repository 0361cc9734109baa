"""Parameter and FLOP counts of standalone networks, computed on the meta device without allocating memory."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace


@dataclass(frozen=True)
class Cost:
    params: int
    flops: int


class CostModel:
    """Counts, per architecture, the standalone network's parameters and the FLOPs of one forward pass of one image.

    FLOPs are PyTorch's ``FlopCounterMode`` totals: two per multiply-add of convolutions and matrix products,
    which dominate these networks. Pooling, normalisation and element-wise operations are not counted.
    Results are cached by architecture hash.
    """

    def __init__(self, space: SearchSpace, input_shape: tuple[int, int, int]) -> None:
        self.space = space
        self.input_shape = tuple(input_shape)
        self._cache: dict[str, Cost] = {}

    def __call__(self, arch: Architecture) -> Cost:
        if arch.hash not in self._cache:
            with torch.device("meta"):
                network = self.space.build_standalone(arch).eval()
                params = sum(p.numel() for p in network.parameters())
                with FlopCounterMode(display=False) as counter, torch.no_grad():
                    network(torch.empty(1, *self.input_shape))
            self._cache[arch.hash] = Cost(params, int(counter.get_total_flops()))
        return self._cache[arch.hash]


class Constraints:
    """Optional upper limits on parameters and FLOPs; ``None`` means no limit."""

    def __init__(self, cost_model: CostModel, max_params: int | None = None, max_flops: int | None = None) -> None:
        self.cost_model = cost_model
        self.max_params = max_params
        self.max_flops = max_flops

    def allows(self, arch: Architecture) -> bool:
        if self.max_params is None and self.max_flops is None:
            return True
        cost = self.cost_model(arch)
        if self.max_params is not None and cost.params > self.max_params:
            return False
        return self.max_flops is None or cost.flops <= self.max_flops

    def describe(self) -> str:
        limits = [f"max_params={self.max_params}"] if self.max_params is not None else []
        limits += [f"max_flops={self.max_flops}"] if self.max_flops is not None else []
        return ", ".join(limits) or "no limits"
