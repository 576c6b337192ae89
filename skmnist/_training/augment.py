"""Random image distortions applied to minibatches on the training device.

Each training minibatch is distorted afresh, on the device that trains, with
torch's seeded generator: a random affine map (rotation, scaling, shear,
translation) composed with an elastic deformation (a smooth random
displacement field, after Simard et al. 2003), resampled bilinearly with
``grid_sample``. Nothing runs on the host, so a GPU never waits for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Distortion", "image_side"]


def image_side(n_features: int) -> int | None:
    """The side of a square image of ``n_features`` pixels, or None."""
    side = math.isqrt(n_features)
    return side if side * side == n_features and side >= 4 else None


@dataclass(frozen=True)
class Distortion:
    """Strengths of the distortions; the defaults suit 28x28 digits.

    ``rotation`` is in degrees, ``scale`` and ``shear`` are relative,
    ``shift`` is in pixels. The elastic part moves each of a
    ``control_points`` x ``control_points`` grid of points by up to
    ``elastic`` pixels in each direction, independently, and interpolates the
    displacement bilinearly in between.
    """

    side: int
    rotation: float = 12.0
    scale: float = 0.12
    shear: float = 0.15
    shift: float = 2.0
    elastic: float = 1.5
    control_points: int = 5

    def _uniform(self, shape, like: torch.Tensor) -> torch.Tensor:
        return torch.rand(shape, device=like.device, dtype=like.dtype) * 2 - 1

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Distort a minibatch of flattened images ``(n, side * side)``.

        The sampling grid is computed at the control points only (the affine
        map plus the elastic displacement) and upsampled bilinearly, which
        reproduces the affine part exactly at every pixel.
        """
        n, side, points = x.shape[0], self.side, self.control_points
        edge = 1 - 1 / side  # the outermost pixel centres, in grid_sample units
        axis = torch.linspace(-edge, edge, points, device=x.device, dtype=x.dtype)
        gy, gx = torch.meshgrid(axis, axis, indexing="ij")
        coarse = torch.stack([gx, gy], dim=-1).reshape(1, points * points, 2)

        angle = self._uniform(n, x) * math.radians(self.rotation)
        scale = 1 + self._uniform(n, x) * self.scale
        shear = self._uniform(n, x) * self.shear
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        linear = torch.stack(
            [torch.stack([cos, -sin + shear], 1), torch.stack([sin, cos], 1)], 1
        )
        offset = self._uniform((n, 1, 2), x) * (2 * self.shift / side)
        grid = torch.baddbmm(offset, coarse.expand(n, -1, -1), linear.transpose(1, 2))
        grid = grid + self._uniform(grid.shape, x) * (2 * self.elastic / side)
        grid = F.interpolate(
            grid.reshape(n, points, points, 2).permute(0, 3, 1, 2),
            size=(side, side),
            mode="bilinear",
            align_corners=True,
        ).permute(0, 2, 3, 1)
        images = x.reshape(n, 1, side, side)
        distorted = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        return distorted.reshape(n, -1)
