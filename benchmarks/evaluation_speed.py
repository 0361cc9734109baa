"""Time one-shot scoring against bare forward passes of the same images through standalone networks.

Scoring one architecture is BatchNorm re-estimation on ``--bn-batches`` training batches of ``--batch-size``
followed by one pass over the validation split, done in place on the supernet. The reference runs the same
images through a standalone network of the same architecture: the calibration batches in training mode under
``torch.no_grad`` and the validation split under ``torch.inference_mode``. Networks are built before timing.

    python benchmarks/evaluation_speed.py                  # default space, digits data, 50 architectures
    python benchmarks/evaluation_speed.py --space all --architectures 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lightning_oneshot.data import DigitsDataModule
from lightning_oneshot.evaluation.scorer import Scorer
from lightning_oneshot.spaces.registry import available_spaces, build_space
from lightning_oneshot.supernet import inherit_weights


def _standalone_seconds(networks, calibration, validation) -> float:
    start = time.perf_counter()
    for network in networks:
        network.train()
        with torch.no_grad():
            for x, _ in calibration:
                network(x)
        network.eval()
        with torch.inference_mode():
            for x, _ in validation:
                network(x).argmax(dim=1)
    return time.perf_counter() - start


def measure(name: str, args: argparse.Namespace) -> float:
    datamodule = DigitsDataModule(batch_size=args.batch_size)
    datamodule.setup()
    calibration = datamodule.calibration_batches(args.bn_batches, args.batch_size, seed=0)
    validation = datamodule.validation_batches(args.batch_size)

    torch.manual_seed(0)
    space = build_space(name, datamodule.num_channels, datamodule.num_classes)
    supernet = space.build_supernet()
    rng = np.random.default_rng(0)
    architectures = list({arch.hash: arch for arch in (space.sample(rng) for _ in range(args.architectures * 3))}.values())
    architectures = architectures[: args.architectures]
    networks = []
    for arch in architectures:
        supernet.set_mask(arch)
        network = space.build_standalone(arch)
        inherit_weights(network, supernet)
        networks.append(network)
    scorer = Scorer(supernet, calibration, validation)

    # One untimed round of each warms up allocators and kernels.
    scorer.score(architectures[0])
    _standalone_seconds(networks[:1], calibration, validation)

    # Interleaved per architecture, so that load from other processes affects both sides alike.
    scoring = standalone = 0.0
    for arch, network in zip(architectures, networks):
        start = time.perf_counter()
        scorer.score(arch)
        scoring += time.perf_counter() - start
        standalone += _standalone_seconds([network], calibration, validation)
    ratio = scoring / standalone
    print(
        f"{name}: {len(architectures)} architectures, scoring {scoring:.2f} s, standalone forward passes "
        f"{standalone:.2f} s, ratio {ratio:.3f} (target <= 1.3)"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="nb201", help="a name under conf/search_space, or 'all'")
    parser.add_argument("--architectures", type=int, default=50)
    parser.add_argument("--bn-batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    print(f"threads={torch.get_num_threads()} data=digits batch={args.batch_size} bn_batches={args.bn_batches}")
    for name in available_spaces() if args.space == "all" else [args.space]:
        measure(name, args)


if __name__ == "__main__":
    main()
