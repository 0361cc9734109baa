"""Run lightning-oneshot: search, evaluate and retrain, as configured by Hydra (see conf/config.yaml)."""

import hydra
from omegaconf import DictConfig

from lightning_oneshot.cli import main_with_config


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    return main_with_config(cfg)


if __name__ == "__main__":
    main()
