"""Columns <-> row-major matrices, copied in row blocks that stay in the CPU cache.

A splat lives as [N, K] arrays (SH coefficients, scales...) but Blender and PLY want one contiguous column per
property. Copying a column out of (or into) a row-major [1M, 45] array touches every cache line for 4 useful
bytes; doing it 16k rows at a time keeps the block in cache (4x faster on the project's machine).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK = 1 << 14  # rows per block


def stack_columns(columns: Sequence[np.ndarray], dtype=np.float32) -> np.ndarray:
    """C-contiguous [N, K] of K columns [N] (``np.stack(columns, axis=1)``, blockwise)."""
    n = len(columns[0]) if columns else 0
    out = np.empty((n, len(columns)), dtype)
    for start in range(0, n, BLOCK):
        np.stack([np.asarray(c[start : start + BLOCK], dtype) for c in columns], axis=1, out=out[start : start + BLOCK])
    return out


def column_rows(matrix: np.ndarray) -> np.ndarray:
    """C-contiguous [K, N] of an [N, K] matrix (its columns as contiguous rows, blockwise)."""
    matrix = np.asarray(matrix)
    out = np.empty((matrix.shape[1], matrix.shape[0]), matrix.dtype)
    for start in range(0, matrix.shape[0], BLOCK):
        out[:, start : start + BLOCK] = matrix[start : start + BLOCK].T
    return out
