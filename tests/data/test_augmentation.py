import pytest
import torch
from torch.nn import functional as F

from lightning_oneshot.data.augmentation import cutout, normalize, random_crop_flip


def _image_batch(batch: int, channels: int = 3, size: int = 8) -> torch.Tensor:
    # One random image repeated, so that any difference between outputs comes from the augmentation.
    image = torch.randint(0, 256, (1, channels, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return image.expand(batch, -1, -1, -1).contiguous()


def _crop_and_flip_of(output: torch.Tensor, image: torch.Tensor, padding: int) -> set[tuple[int, int, bool]]:
    """All (top, left, flipped) placements of ``image``'s padded copy that give ``output``."""
    padded = F.pad(image, (padding,) * 4)
    size = image.shape[-1]
    matches = set()
    for top in range(2 * padding + 1):
        for left in range(2 * padding + 1):
            crop = padded[:, top : top + size, left : left + size]
            for flipped in (False, True):
                if torch.equal(crop.flip(-1) if flipped else crop, output):
                    matches.add((top, left, flipped))
    return matches


def test_crop_flip_draws_per_sample_parameters():
    images = _image_batch(32)
    generator = torch.Generator().manual_seed(1)
    augmented = random_crop_flip(images, padding=2, horizontal_flip=True, generator=generator)

    placements = [_crop_and_flip_of(output, images[0], padding=2) for output in augmented]
    assert all(placements), "every output must be a crop of the padded image, flipped or not"
    distinct_outputs = {output.numpy().tobytes() for output in augmented}
    assert len(distinct_outputs) > 16
    flips = {flipped for matches in placements for _, _, flipped in matches}
    assert flips == {False, True}


def test_crop_flip_keeps_shape_and_dtype():
    images = _image_batch(4)
    augmented = random_crop_flip(images, padding=4, horizontal_flip=True)
    assert augmented.shape == images.shape
    assert augmented.dtype == torch.uint8


def test_crop_without_flip_never_mirrors():
    images = _image_batch(16)
    augmented = random_crop_flip(images, padding=1, horizontal_flip=False, generator=torch.Generator().manual_seed(2))
    for output in augmented:
        assert any(not flipped for _, _, flipped in _crop_and_flip_of(output, images[0], padding=1))


def test_no_padding_and_no_flip_is_identity():
    images = _image_batch(4)
    assert random_crop_flip(images, padding=0, horizontal_flip=False) is images


def test_cutout_zeroes_one_square_per_sample():
    images = torch.ones(64, 3, 16, 16)
    holes = cutout(images, size=4, generator=torch.Generator().manual_seed(3)) == 0
    per_sample = holes[:, 0].flatten(1).sum(dim=1)
    assert per_sample.max() <= 16
    assert per_sample.min() >= 4  # A square centred on a corner keeps at least a 2x2 quarter.
    assert torch.equal(holes[:, 0], holes[:, 2])
    assert len({mask.numpy().tobytes() for mask in holes[:, 0]}) > 1


def test_normalize_uses_channel_statistics():
    images = torch.full((2, 2, 1, 1), 255, dtype=torch.uint8)
    normalized = normalize(images, torch.tensor([0.5, 1.0]), torch.tensor([0.25, 1.0]))
    assert normalized[:, 0].flatten().tolist() == pytest.approx([2.0, 2.0])
    assert normalized[:, 1].flatten().tolist() == pytest.approx([0.0, 0.0])
