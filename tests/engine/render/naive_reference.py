"""A literal, slow, per-pixel transcription of gsplat's forward pass (projection already done), used as an
independent oracle for the vectorised tile compositor. Only for tiny images."""

from __future__ import annotations

import math

import numpy as np


def naive_composite(means2d, conics, opacities, depths, radii, colors, width, height, tile_size=16):
    """Sequential front-to-back loop per pixel over the Gaussians of its tile (gsplat's rules)."""
    out = np.zeros((height, width, colors.shape[1]))
    alpha_out = np.zeros((height, width))
    order = np.argsort(depths, kind="stable")
    for py in range(height):
        for px in range(width):
            tx, ty = px // tile_size, py // tile_size
            T = 1.0
            for g in order:
                rx, ry = radii[g]
                if rx <= 0 or ry <= 0:
                    continue
                mx, my = means2d[g]
                # tile overlap test (gsplat isect_tiles)
                x0 = max(0, math.floor((mx - rx) / tile_size))
                x1 = math.ceil((mx + rx) / tile_size)
                y0 = max(0, math.floor((my - ry) / tile_size))
                y1 = math.ceil((my + ry) / tile_size)
                if not (x0 <= tx < x1 and y0 <= ty < y1):
                    continue
                dx, dy = mx - (px + 0.5), my - (py + 0.5)
                a, b, c = conics[g]
                sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                alpha = min(0.999, opacities[g] * math.exp(-sigma))
                if sigma < 0 or alpha < 1 / 255:
                    continue
                next_T = T * (1 - alpha)
                if next_T <= 1e-4:
                    break
                out[py, px] += colors[g] * alpha * T
                T = next_T
            alpha_out[py, px] = 1 - T
    return out, alpha_out
