"""The picture of a measure's histogram that the Select by Attribute panel shows: bars on a square-root scale, the
selected side of the cut in the highlight colour, the cut as a white line. numpy only; Blender shows it as a
preview icon."""

from __future__ import annotations

import numpy as np

from .splat_measures import MEASURES, Histogram

BACKGROUND = (0.12, 0.12, 0.12, 1.0)
BAR = (0.62, 0.62, 0.62, 1.0)
SELECTED = (1.0, 0.35, 0.05, 1.0)
CUT = (1.0, 1.0, 1.0, 1.0)


def histogram_image(hist: Histogram, cut: float, width: int = 256, height: int = 72) -> np.ndarray:
    """float32 [height, width, 4] RGBA, row 0 at the bottom (Blender's pixel order)."""
    image = np.empty((height, width, 4), np.float32)
    image[:] = BACKGROUND
    bins = len(hist.counts)
    column_bin = np.minimum((np.arange(width) * bins) // width, bins - 1)  # the bin each pixel column shows
    counts = hist.counts.astype(np.float64)
    heights = np.sqrt(counts / max(counts.max(), 1.0))  # square root: the peaks fit, small bins stay visible
    bar_top = np.round(heights[column_bin] * (height - 2)).astype(int) + (counts[column_bin] > 0)
    cut_column = round(hist.position(cut) * (width - 1))
    columns = np.arange(width)
    selected = columns > cut_column if MEASURES[hist.kind][1] else columns < cut_column
    rows = np.arange(height)[:, None]
    filled = rows < bar_top[None, :]
    image[filled & ~selected[None, :]] = BAR
    image[filled & selected[None, :]] = SELECTED
    image[:, cut_column] = CUT
    return image
