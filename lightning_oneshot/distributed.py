"""Multi-process settings: DDP strategy choices per stage and helpers to shard work across ranks."""

from __future__ import annotations

import logging
import os
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_info

from lightning_oneshot.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Lightning's registered DDP strategy names, by launcher.
_DDP_NAMES = ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")
_UNUSED_SUFFIXES = ("", "_find_unused_parameters_false", "_find_unused_parameters_true")


def _ddp_base_name(strategy: str) -> str | None:
    for name in _DDP_NAMES:
        for suffix in _UNUSED_SUFFIXES:
            if strategy == name + suffix:
                return name
    return None


def _is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def check_strategy(trainer_cfg: DictConfig) -> None:
    """Reject DDP settings that cannot train a supernet or cannot run in this launch mode, before any work starts."""
    strategy = trainer_cfg.get("strategy")
    several_devices = str(trainer_cfg.get("devices", 1)) != "1" or trainer_cfg.get("num_nodes", 1) != 1
    if isinstance(strategy, str) and _ddp_base_name(strategy) == "ddp" and several_devices and _is_multirun():
        raise ConfigError(
            f"trainer.strategy={strategy} cannot run inside a Hydra multirun (-m) on one machine: Lightning relaunches "
            f"the script for each extra device, which would repeat the whole sweep. Use trainer.strategy=ddp_spawn "
            f"for local sweeps, or Hydra's submitit launcher to run each sweep job on its own SLURM allocation."
        )
    if isinstance(strategy, DictConfig) and strategy.get("static_graph"):
        raise ConfigError(
            "trainer.strategy.static_graph=true cannot train a supernet: DDP's static graph assumes the same "
            "parameters are used in every step, but each sampled path uses different ones. Remove "
            "trainer.strategy.static_graph (find_unused_parameters=true is set for the search stage)."
        )


def search_strategy(trainer_cfg: DictConfig) -> Any:
    """Return the trainer's strategy, with DDP switched to ``find_unused_parameters=True`` for the supernet.

    A single path leaves most supernet parameters unused in a step, and DDP's default then fails in the
    backward pass. Returns a strategy name or config node for ``Trainer(strategy=...)``.
    """
    strategy = trainer_cfg.get("strategy", "auto")
    if isinstance(strategy, str):
        base = _ddp_base_name(strategy)
        if base is None:
            return strategy
        if not strategy.endswith("_find_unused_parameters_true"):
            rank_zero_info(
                f"Search stage: using strategy '{base}_find_unused_parameters_true' instead of '{strategy}', because "
                f"a sampled path leaves most supernet parameters unused in each step."
            )
        return f"{base}_find_unused_parameters_true"
    if isinstance(strategy, DictConfig) and "find_unused_parameters" in _target_arguments(strategy):
        if not strategy.get("find_unused_parameters"):
            rank_zero_info("Search stage: setting trainer.strategy.find_unused_parameters=true for the supernet.")
        strategy = OmegaConf.merge(strategy, {"find_unused_parameters": True})
    return strategy


def _target_arguments(strategy: DictConfig) -> set[str]:
    target = str(strategy.get("_target_", ""))
    return {"find_unused_parameters"} if target.endswith("DDPStrategy") else set(strategy.keys())


def rank_and_world_size() -> tuple[int, int]:
    """This process's rank and the number of processes; (0, 1) when torch.distributed is not initialized."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_objects(local: T) -> list[T]:
    """All-gather picklable objects from every rank, in rank order; a one-item list without a process group."""
    rank, world_size = rank_and_world_size()
    if world_size == 1:
        return [local]
    gathered: list[Any] = [None] * world_size
    dist.all_gather_object(gathered, local)
    return gathered


def broadcast_object(value: T) -> T:
    """Send rank zero's object to every rank."""
    _, world_size = rank_and_world_size()
    if world_size == 1:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def device_for_rank(accelerator: str) -> torch.device:
    """Return the device for this process: its local GPU when CUDA is used, else the CPU."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        # LOCAL_RANK is set by Lightning's launchers, torchrun and SLURM setups for every process of a node.
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
    return torch.device("cpu")


def launch_without_trainer(trainer_cfg: DictConfig) -> None:
    """Start the DDP processes for a stage that runs without a Trainer (``stage=evaluate``).

    Lightning Fabric relaunches the script once per extra device, as the Trainer does, and sets up the process
    group that the sharded scoring uses. Only the relaunching ``ddp`` launcher is supported here: with
    ``ddp_spawn`` and the others, evaluation runs in one process.
    """
    strategy = trainer_cfg.get("strategy", "auto")
    if isinstance(strategy, str):
        name = strategy
    elif str(strategy.get("_target_", "")).endswith("DDPStrategy"):
        name = "ddp"
    else:
        name = ""
    devices, num_nodes = trainer_cfg.get("devices", 1), trainer_cfg.get("num_nodes", 1)
    if rank_and_world_size()[1] > 1 or (str(devices) == "1" and num_nodes == 1):
        return
    if _ddp_base_name(name) != "ddp":
        if _ddp_base_name(name) is not None:
            rank_zero_info(f"Evaluation runs in one process: strategy {name!r} cannot relaunch the script.")
        return

    from lightning_fabric import Fabric

    fabric = Fabric(accelerator=trainer_cfg.get("accelerator", "auto"), devices=devices, num_nodes=num_nodes, strategy="ddp")
    fabric.launch()
