"""Write tiny datasets in the on-disk formats that torchvision reads, with random pixels and labels.

Each writer takes a root folder and a number of images per official split and lays the files out as
torchvision expects under that root. Pixel values and labels come from a seeded generator.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
from scipy.io import savemat


def _pixels(rng: np.random.Generator, count: int, *shape: int) -> np.ndarray:
    return rng.integers(0, 256, size=(count, *shape), dtype=np.uint8)


def _write_pickle(path: Path, content: dict) -> None:
    with path.open("wb") as file:
        pickle.dump(content, file)


def write_cifar10(root: Path, train: int, test: int, seed: int = 0) -> None:
    """Write five training batches and one test batch of the 'python' version, split like the real files."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    per_batch = np.array_split(np.arange(train), 5)
    for number, indices in enumerate(per_batch, start=1):
        content = {"data": _pixels(rng, len(indices), 3 * 32 * 32), "labels": rng.integers(0, 10, len(indices)).tolist()}
        _write_pickle(folder / f"data_batch_{number}", content)
    _write_pickle(folder / "test_batch", {"data": _pixels(rng, test, 3 * 32 * 32), "labels": rng.integers(0, 10, test).tolist()})
    _write_pickle(folder / "batches.meta", {"label_names": [f"class_{index}" for index in range(10)]})


def write_cifar100(root: Path, train: int, test: int, seed: int = 0) -> None:
    """Write the 'train', 'test' and 'meta' files of the 'python' version, with fine and coarse labels."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, count in (("train", train), ("test", test)):
        content = {
            "data": _pixels(rng, count, 3 * 32 * 32),
            "fine_labels": rng.integers(0, 100, count).tolist(),
            "coarse_labels": rng.integers(0, 20, count).tolist(),
        }
        _write_pickle(folder / name, content)
    _write_pickle(folder / "meta", {"fine_label_names": [f"class_{index}" for index in range(100)]})


def _write_idx(path: Path, array: np.ndarray) -> None:
    # IDX header: two zero bytes, the type code 0x08 (unsigned byte), the number of dimensions, then
    # each dimension as a big-endian int32.
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, train: int, test: int, seed: int = 0, folder_name: str = "MNIST") -> None:
    """Write the four extracted idx files under ``<root>/<folder_name>/raw``."""
    rng = np.random.default_rng(seed)
    folder = root / folder_name / "raw"
    folder.mkdir(parents=True)
    for prefix, count in (("train", train), ("t10k", test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", _pixels(rng, count, 28, 28))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, count).astype(np.uint8))


def write_fashion_mnist(root: Path, train: int, test: int, seed: int = 0) -> None:
    """Write Fashion-MNIST, which uses MNIST's file names under ``<root>/FashionMNIST/raw``."""
    write_mnist(root, train, test, seed, folder_name="FashionMNIST")


def write_svhn(root: Path, train: int, test: int, seed: int = 0) -> None:
    """Write ``train_32x32.mat`` and ``test_32x32.mat``: X is (32, 32, 3, N), y contains labels 1 to 10 (10 is the digit 0)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, count in (("train", train), ("test", test)):
        images = np.ascontiguousarray(_pixels(rng, count, 32, 32, 3).transpose(1, 2, 3, 0))
        labels = rng.integers(1, 11, (count, 1)).astype(np.uint8)
        savemat(root / f"{name}_32x32.mat", {"X": images, "y": labels})


WRITERS = {
    "cifar10": write_cifar10,
    "cifar100": write_cifar100,
    "mnist": write_mnist,
    "fashion_mnist": write_fashion_mnist,
    "svhn": write_svhn,
}
