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
from pathlib import Path

import numpy as np

from saga_blender.core.atomic_files import atomic_write
from saga_blender.core.splat_io import read_splat, write_splat

from .scene_types import TABLE_TOP_Z, ObjectSpec, PartSpec, SyntheticScene
from .shapes import Box, Lathe, Placed, Rect, Surface, Torus, compose, cylinder, rotation, shell
from .splat_sampling import scene_from_layout

LABELS_VERSION = 1

RED = (0.75, 0.12, 0.10)  # mug body and top book
CERAMIC = (0.90, 0.89, 0.85)  # bowl and plate


def _on_table(surface: Surface, x: float, y: float, yaw_deg: float = 0.0, z: float = 0.0) -> Placed:
    return Placed(surface, rotation("z", np.radians(yaw_deg)), (x, y, TABLE_TOP_Z + z))


#: where each object stands on the table: x, y (metres from the table's centre) and yaw (degrees)
DEFAULT_PLACEMENT = {
    "mug": (-0.36, 0.14, 200.0), "lamp": (0.36, 0.16, 0.0), "books": (-0.08, 0.17, 0.0), "bowl": (0.06, -0.15, 0.0),
    "plate": (-0.30, -0.15, 0.0), "apple": (0.24, -0.12, 0.0), "vase": (0.42, -0.17, 0.0), "die": (-0.12, -0.07, 25.0),
    "pen": (-0.10, -0.28, 10.0),
}  # fmt: skip
#: each object's footprint radius on the table (metres), for random layouts
FOOTPRINT = {"mug": 0.075, "lamp": 0.10, "books": 0.15, "bowl": 0.09, "plate": 0.12, "apple": 0.04, "vase": 0.06,
             "die": 0.025, "pen": 0.09}  # fmt: skip


def random_placement(rng: np.random.Generator, tries: int = 2000) -> dict[str, tuple[float, float, float]]:
    """Every object at a random place and yaw on the table top, none overlapping (largest placed first); objects may
    stand close (a few millimetres apart), as on a real table."""
    placed: dict[str, tuple[float, float, float]] = {}
    for name in sorted(FOOTPRINT, key=lambda k: -FOOTPRINT[k]):
        r = FOOTPRINT[name]
        for _ in range(tries):
            x, y = rng.uniform(-0.55 + r, 0.55 - r), rng.uniform(-0.35 + r, 0.35 - r)
            gap = rng.uniform(0.003, 0.03)
            if all(np.hypot(x - px, y - py) >= r + FOOTPRINT[o] + gap for o, (px, py, _) in placed.items()):
                placed[name] = (float(x), float(y), float(rng.uniform(0.0, 360.0)))
                break
        else:
            raise ValueError(f"no room for the {name} on the table (layout seed)")
    return placed


def table_scene_layout(floor: bool = True, placement: dict | None = None) -> list[ObjectSpec]:
    """The objects of the table scene, with world-placed surfaces and colours (``placement``: x, y, yaw per object;
    default ``DEFAULT_PLACEMENT``)."""
    where = dict(DEFAULT_PLACEMENT, **(placement or {}))
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
        PartSpec("body", _on_table(body, *where["mug"]), RED),
        PartSpec("handle", _on_table(handle, *where["mug"]), (0.62, 0.09, 0.08)),
    )
    objects.append(ObjectSpec("mug", mug))

    # Lamp, 28 cm: base disc, pole through the hole at the top of a thin conical shade.
    shade = shell([(0.10, 0.17), (0.055, 0.28), (0.007, 0.28)], 0.002)
    pole = Placed(cylinder(0.007, 0.26, bottom=False), translation=(0, 0, 0.02))
    lamp = (
        PartSpec("base", _on_table(cylinder(0.07, 0.02), *where["lamp"]), (0.12, 0.12, 0.13)),
        PartSpec("pole", _on_table(pole, *where["lamp"]), (0.70, 0.71, 0.73)),
        PartSpec("shade", _on_table(shade, *where["lamp"]), (0.93, 0.86, 0.70)),
    )
    objects.append(ObjectSpec("lamp", lamp))

    books, z = [], 0.0
    for label, size, yaw, rgb in (
        ("book_bottom", (0.24, 0.17, 0.035), 0.0, (0.13, 0.20, 0.45)),
        ("book_middle", (0.21, 0.15, 0.03), 8.0, (0.15, 0.40, 0.22)),
        ("book_top", (0.19, 0.13, 0.025), -6.0, RED),
    ):
        bx, by, byaw = where["books"]
        books.append(PartSpec(label, _on_table(Box(size), bx, by, byaw + yaw, z), rgb))
        z += size[2]
    objects.append(ObjectSpec("books", tuple(books)))

    # Bowl: a spherical shell (radius 8.5 cm) on a foot ring; plate: flat centre, sloped rim.
    rs = 0.085
    beta = np.linspace(np.arcsin(0.035 / rs), np.pi / 2, 20)
    zc = np.sqrt(rs**2 - 0.035**2)
    bowl = shell([(0.0, 0.0), *zip(rs * np.sin(beta), zc - rs * np.cos(beta), strict=True)], 0.005)
    objects.append(ObjectSpec("bowl", (PartSpec("bowl", _on_table(bowl, *where["bowl"]), CERAMIC),)))
    plate = shell([(0.0, 0.0), (0.085, 0.0), (0.115, 0.018)], 0.004)
    objects.append(ObjectSpec("plate", (PartSpec("plate", _on_table(plate, *where["plate"]), CERAMIC),)))

    # Apple: a slightly flattened body with a dimple at the top, a stem sunk into the dimple.
    th = np.linspace(0.0, np.pi, 33)
    apple_z = 0.036 * (1 - np.cos(th)) - 0.006 * np.exp(-(((np.pi - th) / 0.35) ** 2))
    apple_body = Lathe(tuple(zip(0.038 * np.sin(th), apple_z, strict=True)))
    stem = Placed(cylinder(0.0025, 0.02, bottom=False), rotation("y", np.radians(12)), (0, 0, apple_z[-1] - 0.002))
    apple = (
        PartSpec("body", _on_table(apple_body, *where["apple"]), (0.55, 0.72, 0.18)),
        PartSpec("stem", _on_table(stem, *where["apple"]), (0.36, 0.24, 0.12)),
    )
    objects.append(ObjectSpec("apple", apple))

    vase_profile = [(0.0, 0.0), (0.035, 0.0), (0.05, 0.03), (0.058, 0.07), (0.052, 0.11), (0.035, 0.15)]
    vase_profile += [(0.024, 0.18), (0.025, 0.20), (0.032, 0.22)]
    vase = PartSpec("vase", _on_table(shell(vase_profile, 0.004), *where["vase"]), (0.15, 0.50, 0.55))
    objects.append(ObjectSpec("vase", (vase,)))
    objects.append(
        ObjectSpec("die", (PartSpec("die", _on_table(Box((0.024,) * 3), *where["die"]), (0.95, 0.75, 0.12)),))
    )

    # Pen lying on the table: barrel with a conical tip along local z, laid along x by a 90 deg turn about y.
    px, py, pyaw = where["pen"]
    lay = compose(rotation("z", np.radians(pyaw)), rotation("y", np.pi / 2))
    barrel = Lathe(((0.0, 0.0), (0.0045, 0.0), (0.0045, 0.12), (0.0012, 0.135), (0.0, 0.135)))
    cap = cylinder(0.005, 0.055)
    pen = (
        PartSpec("barrel", Placed(barrel, lay, (px, py, TABLE_TOP_Z + 0.005)), (0.12, 0.30, 0.75)),
        PartSpec(
            "cap",
            Placed(Placed(cap, translation=(0, 0, -0.005)), lay, (px, py, TABLE_TOP_Z + 0.005)),
            (0.07, 0.07, 0.08),
        ),
    )
    objects.append(ObjectSpec("pen", pen))
    return objects


def generate_table_scene(
    n_gaussians: int = 20000, seed: int = 0, *, floor: bool = True, sh_degree: int = 0, layout_seed: int | None = None
) -> SyntheticScene:
    """The labelled table scene with exactly ``n_gaussians`` Gaussians; same seed, same bytes.

    ``sh_degree`` > 0 adds small random higher-order SH coefficients (a little view dependence). ``layout_seed``
    places the objects at random (``random_placement``) instead of the fixed demo layout.
    """
    if sh_degree not in (0, 1, 2, 3):
        raise ValueError(f"sh_degree must be 0..3, got {sh_degree}")
    rng = np.random.default_rng(seed)
    placement = None if layout_seed is None else random_placement(np.random.default_rng(1000 + layout_seed))
    return scene_from_layout(table_scene_layout(floor, placement), n_gaussians, rng, sh_degree,
                             foreground_from=1 if floor else 0)  # fmt: skip


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
