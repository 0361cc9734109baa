"""Time one supernet training step under a sampled single path against the standalone network of that path.

Both networks get the same batch, loss, SGD optimizer (momentum and weight decay) and weights. The supernet
step includes setting the mask, as in training. Each architecture is timed with interleaved repetitions
and the median per network is kept; the printed ratio is the geometric mean over architectures.

    python benchmarks/step_overhead.py                       # nb201 on a digits-sized input (1x8x8)
    python benchmarks/step_overhead.py --channels 3 --image-size 32
    python benchmarks/step_overhead.py --space all           # every space under conf/search_space
    python benchmarks/step_overhead.py --threads 1 --clock cpu   # on a machine that other jobs share

``--clock cpu`` times each step with this process's CPU time, so other processes on the same cores do not
inflate it. Add ``--threads 1`` to measure compute alone.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch.nn import functional as F

from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.spaces.registry import available_spaces, build_space
from lightning_oneshot.supernet import inherit_weights


_CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def _train_step(model, optimizer, images, labels, before=None) -> float:
    start = _clock()
    if before is not None:
        before()
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels).backward()
    optimizer.step()
    return _clock() - start


def _optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)


def measure(space: SearchSpace, arch, images, labels, repeats: int, warmup: int) -> tuple[float, float]:
    supernet = space.build_supernet().train()
    supernet.set_mask(arch)
    standalone = space.build_standalone(arch).train()
    inherit_weights(standalone, supernet)
    super_optimizer, standalone_optimizer = _optimizer(supernet), _optimizer(standalone)

    supernet_times, standalone_times = [], []
    for index in range(warmup + repeats):
        supernet_time = _train_step(supernet, super_optimizer, images, labels, before=lambda: supernet.set_mask(arch))
        standalone_time = _train_step(standalone, standalone_optimizer, images, labels)
        if index >= warmup:
            supernet_times.append(supernet_time)
            standalone_times.append(standalone_time)
    return statistics.median(supernet_times), statistics.median(standalone_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="nb201", help="a name under conf/search_space, or 'all'")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--architectures", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--clock", choices=sorted(_CLOCKS), default="wall", help="wall time or this process's CPU time")
    args = parser.parse_args()

    global _clock
    _clock = _CLOCKS[args.clock]
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    names = available_spaces() if args.space == "all" else [args.space]
    print(f"threads={torch.get_num_threads()} clock={args.clock} input={args.channels}x{args.image_size}x{args.image_size} batch={args.batch_size}")
    for name in names:
        torch.manual_seed(args.seed)
        space = build_space(name, args.channels, 10)
        images = torch.randn(args.batch_size, args.channels, args.image_size, args.image_size)
        labels = torch.randint(0, 10, (args.batch_size,))
        rng = np.random.default_rng(args.seed)

        ratios = []
        for _ in range(args.architectures):
            arch = space.sample(rng)
            supernet_time, standalone_time = measure(space, arch, images, labels, args.repeats, args.warmup)
            ratios.append(supernet_time / standalone_time)
            print(f"{name} {arch.hash}  supernet {supernet_time * 1e3:7.2f} ms  standalone {standalone_time * 1e3:7.2f} ms  ratio {ratios[-1]:.3f}")
        geometric_mean = float(np.exp(np.mean(np.log(ratios))))
        print(f"{name}: step time ratio supernet/standalone: geometric mean {geometric_mean:.3f}, max {max(ratios):.3f}")


if __name__ == "__main__":
    main()
