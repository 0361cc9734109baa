"""The Hydra entry point, shared by ``train.py`` and the ``lightning-oneshot`` console script."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from omegaconf import DictConfig

from lightning_oneshot.errors import ConfigError, NumericalError
from lightning_oneshot.pipeline import run

log = logging.getLogger(__name__)

# Exit status for bad input, reported before any work starts.
EXIT_BAD_INPUT = 2
# Exit status for a NaN or infinite training loss, supernet weights or set of evaluation scores.
EXIT_NUMERICAL_FAULT = 3


def main_with_config(cfg: DictConfig) -> float | None:
    """Run the pipeline; return the test error so that Hydra sweepers can optimise it."""
    try:
        summary = run(cfg)
    except ConfigError as error:
        log.error("%s", error)
        sys.exit(EXIT_BAD_INPUT)
    except NumericalError as error:
        log.error("%s", error)
        last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
        if last.is_file():
            log.error("The last checkpoint with finite weights is %s.", last)
        sys.exit(EXIT_NUMERICAL_FAULT)
    return summary.get("test_error")


def main() -> None:
    import hydra

    hydra.main(config_path="pkg://lightning_oneshot.conf", config_name="config", version_base="1.3")(main_with_config)()
