"""A synthetic, fully labelled Gaussian-splat scene: a table with objects on it, on a floor.

It is the demo scene and the ground truth of the 3D segmentation benchmark. World coordinates are metres,
Z up (``SyntheticScene.up``); the floor is z = 0 and the table top is at z = 0.75.

Objects (id, parts; ids below are with the floor, as by default: without it every id is one less):

====  ==========  =========================================================================
id    object      parts (global part ids, in this order)
====  ==========  =========================================================================
0     background  floor
1     table       top, leg_front_left, leg_front_right, leg_back_left, leg_back_right
2     mug         body, handle
3     lamp        base, pole, shade
4     books       book_bottom, book_middle, book_top (each book is a part of one "books" object)
5     bowl        bowl
6     plate       plate
7     apple       body, stem
8     vase        vase
9     die         die
10    pen         barrel, cap
====  ==========  =========================================================================

Part names are ``"object/part"`` (globally unique); ``part_object[p]`` is the object of part p. Two
pairs of objects share a base colour on purpose: the mug body and the top book are the same red, and the
bowl and the plate are the same white ceramic. Parts that belong together touch (mug body and handle,
lamp base, pole and shade, the stacked books, table top and legs, apple body and stem, pen barrel and cap).

Gaussians lie on the surfaces, flattened along the normal (scale_2, the smallest, is along the normal;
rotation columns are tangent, tangent, normal), tangent scales log-normal around 0.7 times the part's
mean point spacing so surfaces render closed, opacities mostly in 0.6-1, colour and position noise.
Foreground objects get a higher Gaussian density per m^2 than the table and floor, and small parts more
than large ones (weight density * area^0.8), as densification does in a real capture.
The layout is fixed; the seed only changes the sampling. The count is exactly ``n_gaussians``.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from saga_blender.core.atomic_files import atomic_write
from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.splat_io import read_splat, write_splat

from .shapes import Box, Lathe, Placed, Rect, Surface, Torus, compose, cylinder, rotation, shell, surface_quats

TABLE_TOP_Z = 0.75
LABELS_VERSION = 1

RED = (0.75, 0.12, 0.10)  # mug body and top book
CERAMIC = (0.90, 0.89, 0.85)  # bowl and plate


@dataclass(frozen=True)
class PartSpec:
    name: str
    surface: Surface
    rgb: tuple[float, float, float]
    density: float = 3.0  # relative Gaussians per m^2 (foreground objects 3, table 0.5, floor 0.25)
    grain: float = 0.0  # amplitude of a wood-like stripe texture along x


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    parts: tuple[PartSpec, ...]


@dataclass
class SyntheticScene:
    """Splat plus per-Gaussian labels. ``part_object[part_id] == object_id`` for every Gaussian."""

    splat: GaussianSplat
    object_id: np.ndarray  # int32 [N]
    part_id: np.ndarray  # int32 [N]
    object_names: list[str]
    part_names: list[str]  # "object/part"
    part_object: np.ndarray  # int32 [P]
    normals: np.ndarray  # float32 [N, 3] surface normal at each Gaussian (not written to the .ply)
    part_rgb: np.ndarray  # float32 [P, 3] base colour of each part
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))
    center: np.ndarray = field(default_factory=lambda: np.zeros(3))  # centre of the table and objects
    radius: float = 1.0  # half the diagonal of the table-and-objects box
    bbox_min: np.ndarray = field(default_factory=lambda: np.zeros(3))  # of all Gaussians
    bbox_max: np.ndarray = field(default_factory=lambda: np.zeros(3))
    table_top_z: float = TABLE_TOP_Z

    def object_index(self, name: str) -> int:
        return self.object_names.index(name)

    def part_index(self, name: str) -> int:
        return self.part_names.index(name)


def _on_table(surface: Surface, x: float, y: float, yaw_deg: float = 0.0, z: float = 0.0) -> Placed:
    return Placed(surface, rotation("z", np.radians(yaw_deg)), (x, y, TABLE_TOP_Z + z))


def table_scene_layout(floor: bool = True) -> list[ObjectSpec]:
    """The objects of the table scene, with world-placed surfaces and colours."""
    objects: list[ObjectSpec] = []
    if floor:
        objects.append(ObjectSpec("background", (PartSpec("floor", Rect(1.8, 1.4), (0.45, 0.43, 0.40), 0.25),)))
    legs = []
    for label, sx, sy in (("front_left", -1, -1), ("front_right", 1, -1), ("back_left", -1, 1), ("back_right", 1, 1)):
        leg = Placed(Box((0.05, 0.05, TABLE_TOP_Z - 0.03)), translation=(sx * 0.49, sy * 0.29, 0.0))
        legs.append(PartSpec(f"leg_{label}", leg, (0.33, 0.22, 0.13), 0.5, 0.06))
    top = Placed(Box((1.1, 0.7, 0.03)), translation=(0.0, 0.0, TABLE_TOP_Z - 0.03))
    objects.append(ObjectSpec("table", (PartSpec("top", top, (0.60, 0.42, 0.25), 0.5, 0.08), *legs)))

    # Mug: 8 cm wide, 10 cm high, 4 mm wall; a handle arc whose ends sink into the wall.
    r_mug, h_mug, r_handle, off = 0.04, 0.10, 0.03, 0.006
    half = np.arccos(-off / r_handle)
    handle = Placed(Torus(r_handle, 0.005, (-half, half)), rotation("x", np.pi / 2), (r_mug + off, 0, h_mug / 2))
    body = shell([(0.0, 0.0), (r_mug, 0.0), (r_mug, h_mug)], 0.004)
    mug = (
        PartSpec("body", _on_table(body, -0.36, 0.14, 200), RED),
        PartSpec("handle", _on_table(handle, -0.36, 0.14, 200), (0.62, 0.09, 0.08)),
    )
    objects.append(ObjectSpec("mug", mug))

    # Lamp, 28 cm: base disc, pole through the hole at the top of a thin conical shade.
    shade = shell([(0.10, 0.17), (0.055, 0.28), (0.007, 0.28)], 0.002)
    pole = Placed(cylinder(0.007, 0.26, bottom=False), translation=(0, 0, 0.02))
    lamp = (
        PartSpec("base", _on_table(cylinder(0.07, 0.02), 0.36, 0.16), (0.12, 0.12, 0.13)),
        PartSpec("pole", _on_table(pole, 0.36, 0.16), (0.70, 0.71, 0.73)),
        PartSpec("shade", _on_table(shade, 0.36, 0.16), (0.93, 0.86, 0.70)),
    )
    objects.append(ObjectSpec("lamp", lamp))

    books, z = [], 0.0
    for label, size, yaw, rgb in (
        ("book_bottom", (0.24, 0.17, 0.035), 0.0, (0.13, 0.20, 0.45)),
        ("book_middle", (0.21, 0.15, 0.03), 8.0, (0.15, 0.40, 0.22)),
        ("book_top", (0.19, 0.13, 0.025), -6.0, RED),
    ):
        books.append(PartSpec(label, _on_table(Box(size), -0.08, 0.17, yaw, z), rgb))
        z += size[2]
    objects.append(ObjectSpec("books", tuple(books)))

    # Bowl: a spherical shell (radius 8.5 cm) on a foot ring; plate: flat centre, sloped rim.
    rs = 0.085
    beta = np.linspace(np.arcsin(0.035 / rs), np.pi / 2, 20)
    zc = np.sqrt(rs**2 - 0.035**2)
    bowl = shell([(0.0, 0.0), *zip(rs * np.sin(beta), zc - rs * np.cos(beta), strict=True)], 0.005)
    objects.append(ObjectSpec("bowl", (PartSpec("bowl", _on_table(bowl, 0.06, -0.15), CERAMIC),)))
    plate = shell([(0.0, 0.0), (0.085, 0.0), (0.115, 0.018)], 0.004)
    objects.append(ObjectSpec("plate", (PartSpec("plate", _on_table(plate, -0.30, -0.15), CERAMIC),)))

    # Apple: a slightly flattened body with a dimple at the top, a stem sunk into the dimple.
    th = np.linspace(0.0, np.pi, 33)
    apple_z = 0.036 * (1 - np.cos(th)) - 0.006 * np.exp(-(((np.pi - th) / 0.35) ** 2))
    apple_body = Lathe(tuple(zip(0.038 * np.sin(th), apple_z, strict=True)))
    stem = Placed(cylinder(0.0025, 0.02, bottom=False), rotation("y", np.radians(12)), (0, 0, apple_z[-1] - 0.002))
    apple = (
        PartSpec("body", _on_table(apple_body, 0.24, -0.12), (0.55, 0.72, 0.18)),
        PartSpec("stem", _on_table(stem, 0.24, -0.12), (0.36, 0.24, 0.12)),
    )
    objects.append(ObjectSpec("apple", apple))

    vase_profile = [(0.0, 0.0), (0.035, 0.0), (0.05, 0.03), (0.058, 0.07), (0.052, 0.11), (0.035, 0.15)]
    vase_profile += [(0.024, 0.18), (0.025, 0.20), (0.032, 0.22)]
    objects.append(
        ObjectSpec("vase", (PartSpec("vase", _on_table(shell(vase_profile, 0.004), 0.42, -0.17), (0.15, 0.50, 0.55)),))
    )
    objects.append(
        ObjectSpec("die", (PartSpec("die", _on_table(Box((0.024,) * 3), -0.12, -0.07, 25), (0.95, 0.75, 0.12)),))
    )

    # Pen lying on the table: barrel with a conical tip along local z, laid along x by a 90 deg turn about y.
    lay = compose(rotation("z", np.radians(10)), rotation("y", np.pi / 2))
    barrel = Lathe(((0.0, 0.0), (0.0045, 0.0), (0.0045, 0.12), (0.0012, 0.135), (0.0, 0.135)))
    cap = cylinder(0.005, 0.055)
    pen = (
        PartSpec("barrel", Placed(barrel, lay, (-0.10, -0.28, TABLE_TOP_Z + 0.005)), (0.12, 0.30, 0.75)),
        PartSpec(
            "cap",
            Placed(Placed(cap, translation=(0, 0, -0.005)), lay, (-0.10, -0.28, TABLE_TOP_Z + 0.005)),
            (0.07, 0.07, 0.08),
        ),
    )
    objects.append(ObjectSpec("pen", pen))
    return objects


def _allocate(weights: np.ndarray, n: int) -> np.ndarray:
    """Exactly n counts about proportional to weights, each at least 1 (16 from n = 64 P on); largest remainder."""
    p = len(weights)
    if n < p:
        raise ValueError(f"n_gaussians={n} is smaller than the number of parts ({p})")
    floor = max(1, min(16, n // (4 * p)))
    raw = (n - floor * p) * weights / weights.sum()
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - floor * p - counts.sum()]] += 1
    return counts + floor


def generate_table_scene(
    n_gaussians: int = 20000, seed: int = 0, *, floor: bool = True, sh_degree: int = 0
) -> SyntheticScene:
    """The labelled table scene with exactly ``n_gaussians`` Gaussians; same seed, same bytes.

    ``sh_degree`` > 0 adds small random higher-order SH coefficients (a little view dependence).
    """
    if sh_degree not in (0, 1, 2, 3):
        raise ValueError(f"sh_degree must be 0..3, got {sh_degree}")
    rng = np.random.default_rng(seed)
    objects = table_scene_layout(floor)
    parts = [(oi, obj.name, spec) for oi, obj in enumerate(objects) for spec in obj.parts]
    areas = np.array([spec.surface.area() for _, _, spec in parts])
    # Small parts get relatively more Gaussians (area^0.8), as densification does for detail.
    counts = _allocate(areas**0.8 * np.array([spec.density for _, _, spec in parts]), n_gaussians)
    pts, nrm, spacing, rgb, obj_ids, part_ids = [], [], [], [], [], []
    for pi, ((oi, _, spec), k) in enumerate(zip(parts, counts, strict=True)):
        p, q = spec.surface.sample(rng, int(k))
        colour = np.tile(np.asarray(spec.rgb), (len(p), 1))
        if spec.grain:
            wobble = np.sin(2 * np.pi * (p[:, 0] + 0.01 * np.sin(9.0 * p[:, 1])) / 0.025)
            colour *= 1.0 + spec.grain * wobble[:, None]
        pts.append(p)
        nrm.append(q)
        rgb.append(colour)
        spacing.append(np.full(len(p), np.sqrt(areas[pi] / max(int(k), 1))))
        obj_ids.append(np.full(len(p), oi, np.int32))
        part_ids.append(np.full(len(p), pi, np.int32))
    points, normals = np.concatenate(pts), np.concatenate(nrm)
    h, colour = np.concatenate(spacing), np.concatenate(rgb)
    n = len(points)

    tangent = 0.7 * h[:, None] * np.exp(rng.normal(0.0, 0.3, (n, 2)))
    tangent = np.clip(tangent, 0.2 * h[:, None], 3.0 * h[:, None])
    flat = np.clip(np.exp(rng.normal(np.log(0.08), 0.5, n)), 0.01, 0.5) * tangent.min(axis=1)
    scales = np.concatenate([tangent, flat[:, None]], axis=1)
    quats = surface_quats(rng, normals)
    means = points + rng.normal(0.0, 1.0, (n, 3)) * np.minimum(0.0005, 0.05 * h)[:, None]
    low = rng.random(n) < 0.15
    opacities = np.where(low, 0.05 + 0.55 * rng.random(n), 0.995 - 0.395 * rng.random(n) ** 2)
    colour += rng.normal(0.0, 0.025, (n, 3)) + rng.normal(0.0, 0.02, (n, 1))
    sh_rest = None
    if sh_degree:
        sh_rest = rng.normal(0.0, 0.02, (n, (sh_degree + 1) ** 2 - 1, 3))
    splat = GaussianSplat.from_activated(means, quats, scales, opacities, np.clip(colour, 0.0, 1.0), sh_rest)

    object_id, part_id = np.concatenate(obj_ids), np.concatenate(part_ids)
    fg = object_id >= (1 if floor else 0)
    lo, hi = splat.means[fg].min(axis=0).astype(np.float64), splat.means[fg].max(axis=0).astype(np.float64)
    return SyntheticScene(
        splat=splat,
        object_id=object_id,
        part_id=part_id,
        object_names=[obj.name for obj in objects],
        part_names=[f"{name}/{spec.name}" for _, name, spec in parts],
        part_object=np.array([oi for oi, _, _ in parts], np.int32),
        normals=normals.astype(np.float32),
        part_rgb=np.array([spec.rgb for _, _, spec in parts], np.float32),
        center=(lo + hi) / 2,
        radius=float(np.linalg.norm(hi - lo) / 2),
        bbox_min=splat.means.min(axis=0).astype(np.float64),
        bbox_max=splat.means.max(axis=0).astype(np.float64),
    )


_META = ("up", "center", "bbox_min", "bbox_max")


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` with fixed zip timestamps, so the same arrays give the same bytes."""
    with atomic_write(path) as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def save_scene(scene: SyntheticScene, folder: str | os.PathLike, name: str = "scene") -> tuple[Path, Path]:
    """Write ``<name>.ply`` (INRIA) and ``<name>_labels.npz`` into ``folder``; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ply, labels = folder / f"{name}.ply", folder / f"{name}_labels.npz"
    write_splat(ply, scene.splat)
    arrays = {
        "labels_version": np.int32(LABELS_VERSION),
        "object_id": scene.object_id.astype(np.int32),
        "part_id": scene.part_id.astype(np.int32),
        "object_names": np.array(scene.object_names, dtype=str),
        "part_names": np.array(scene.part_names, dtype=str),
        "part_object": scene.part_object.astype(np.int32),
        "normals": scene.normals.astype(np.float32),
        "part_rgb": scene.part_rgb.astype(np.float32),
        "radius": np.float64(scene.radius),
        "table_top_z": np.float64(scene.table_top_z),
        **{key: np.asarray(getattr(scene, key), np.float64) for key in _META},
    }
    _write_npz(labels, arrays)
    return ply, labels


def load_scene_labels(path: str | os.PathLike) -> dict[str, object]:
    """Read ``<name>_labels.npz`` (or the labels beside ``<name>.ply``): arrays as saved, names as lists."""
    path = Path(path)
    if path.suffix.lower() == ".ply":
        path = path.with_name(path.stem + "_labels.npz")
    with np.load(path, allow_pickle=False) as data:
        out: dict[str, object] = {key: data[key] for key in data.files}
    out["object_names"] = [str(s) for s in out["object_names"]]
    out["part_names"] = [str(s) for s in out["part_names"]]
    for key in ("radius", "table_top_z", "labels_version"):
        out[key] = out[key].item()
    return out


def load_scene(folder: str | os.PathLike, name: str = "scene") -> SyntheticScene:
    """Read back what :func:`save_scene` wrote."""
    ply = Path(folder) / f"{name}.ply"
    labels = load_scene_labels(ply)
    labels.pop("labels_version")
    return SyntheticScene(splat=read_splat(ply).splat, **labels)
