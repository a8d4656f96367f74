"""Test-only writer of COLMAP sparse models (binary and text), independent of the reader under test.

Formats as documented at https://colmap.github.io/format.html: little endian; cameras.bin =
u64 count, then per camera i32 id, i32 model id, u64 width, u64 height, f64 params; images.bin = u64
count, then per image i32 id, f64 qw qx qy qz, f64 tx ty tz, i32 camera id, NUL-terminated name,
u64 number of 2D points, then (f64 x, f64 y, i64 point3D id) per point.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

MODEL_IDS = {"SIMPLE_PINHOLE": 0, "PINHOLE": 1, "SIMPLE_RADIAL": 2, "RADIAL": 3, "OPENCV": 4, "OPENCV_FISHEYE": 5}


def rotation_to_quaternion(R: np.ndarray) -> np.ndarray:
    """w, x, y, z (w >= 0) of a rotation matrix (Shepperd's method)."""
    tr = np.trace(R)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(R)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + R[i, i] - R[j, j] - R[k, k])
        q = [0.0] * 4
        q[0] = (R[k, j] - R[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (R[j, i] + R[i, j]) / s
        q[1 + k] = (R[k, i] + R[i, k]) / s
    q = np.array(q)
    return q if q[0] >= 0 else -q


def write_model(folder: Path, cameras: list[dict], images: list[dict], binary: bool) -> None:
    """cameras: dicts(id, model, width, height, params); images: dicts(id, viewmat, camera_id, name, points).

    ``points`` is an optional list of (x, y, point3D_id).
    """
    folder.mkdir(parents=True, exist_ok=True)
    quats = [rotation_to_quaternion(np.asarray(im["viewmat"])[:3, :3]) for im in images]
    if binary:
        data = struct.pack("<Q", len(cameras))
        for c in cameras:
            data += struct.pack("<iiQQ", c["id"], MODEL_IDS[c["model"]], c["width"], c["height"])
            data += struct.pack(f"<{len(c['params'])}d", *c["params"])
        (folder / "cameras.bin").write_bytes(data)
        data = struct.pack("<Q", len(images))
        for im, q in zip(images, quats, strict=True):
            t = np.asarray(im["viewmat"])[:3, 3]
            data += struct.pack("<idddddddi", im["id"], *q, *t, im["camera_id"])
            data += im["name"].encode() + b"\x00"
            pts = im.get("points", [])
            data += struct.pack("<Q", len(pts))
            for x, y, pid in pts:
                data += struct.pack("<ddq", x, y, pid)
        (folder / "images.bin").write_bytes(data)
    else:
        lines = ["# Camera list with one line of data per camera:", f"# Number of cameras: {len(cameras)}"]
        for c in cameras:
            params = " ".join(repr(float(p)) for p in c["params"])
            lines.append(f"{c['id']} {c['model']} {c['width']} {c['height']} {params}")
        (folder / "cameras.txt").write_text("\n".join(lines) + "\n")
        lines = ["# Image list with two lines of data per image:", f"# Number of images: {len(images)}"]
        for im, q in zip(images, quats, strict=True):
            t = np.asarray(im["viewmat"])[:3, 3]
            vals = " ".join(repr(float(v)) for v in (*q, *t))
            lines.append(f"{im['id']} {vals} {im['camera_id']} {im['name']}")
            lines.append(" ".join(f"{x!r} {y!r} {pid}" for x, y, pid in im.get("points", [])))
        (folder / "images.txt").write_text("\n".join(lines) + "\n")
