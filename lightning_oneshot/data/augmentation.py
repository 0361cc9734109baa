"""Batch-wide image augmentation on the device: per-sample random crops, flips and Cutout.

The functions take a whole batch ``(B, C, H, W)`` and draw independent parameters for each sample, so the
data loader only has to slice uint8 tensors and the augmentation runs where the batch already is.
"""

from __future__ import annotations

import torch


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Scale uint8 images to [0, 1] and standardise each channel with ``mean`` and ``std`` (shape ``(C,)``)."""
    mean = mean.to(images.device).view(1, -1, 1, 1)
    std = std.to(images.device).view(1, -1, 1, 1)
    return (images.float() / 255.0 - mean) / std


def random_crop_flip(
    images: torch.Tensor,
    padding: int,
    horizontal_flip: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Crop each image at a random offset from its zero-padded copy and mirror it with probability 1/2.

    This matches torchvision's ``RandomCrop(size, padding)`` followed by ``RandomHorizontalFlip()`` applied
    sample by sample. Crop and flip are one gather: a flip only reverses the column indices of the crop.
    ``generator`` must live on the images' device when given.
    """
    if padding == 0 and not horizontal_flip:
        return images
    batch, channels, height, width = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (padding, padding, padding, padding)) if padding else images

    top = torch.randint(0, 2 * padding + 1, (batch, 1), device=device, generator=generator)
    left = torch.randint(0, 2 * padding + 1, (batch, 1), device=device, generator=generator)
    rows = top + torch.arange(height, device=device)
    columns = torch.arange(width, device=device).expand(batch, width)
    if horizontal_flip:
        flip = torch.rand(batch, 1, device=device, generator=generator) < 0.5
        columns = torch.where(flip, columns.flip(1), columns)
    columns = left + columns

    samples = torch.arange(batch, device=device).view(batch, 1, 1)
    # Advanced indexing on dims 0, 2 and 3 moves the result to (B, H, W, C); permute back to (B, C, H, W).
    cropped = padded.permute(0, 2, 3, 1)[samples, rows.unsqueeze(2), columns.unsqueeze(1)]
    return cropped.permute(0, 3, 1, 2).contiguous()


def cutout(images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square at a random centre in each image (DeVries and Taylor 2017).

    The square is clipped at the borders, so it can cover fewer than ``size`` x ``size`` pixels. Apply it
    after normalisation so that the hole has the dataset's mean value.
    """
    if size == 0:
        return images
    batch, _, height, width = images.shape
    device = images.device
    centre_y = torch.randint(0, height, (batch, 1, 1), device=device, generator=generator)
    centre_x = torch.randint(0, width, (batch, 1, 1), device=device, generator=generator)
    top = centre_y - size // 2
    left = centre_x - size // 2
    ys = torch.arange(height, device=device).view(1, height, 1)
    xs = torch.arange(width, device=device).view(1, 1, width)
    inside = (ys >= top) & (ys < top + size) & (xs >= left) & (xs < left + size)
    return images.masked_fill(inside.unsqueeze(1), 0.0)
