"""A second labelled scene, unlike the table: the corner of a living room with photo-like surfaces and things that
touch, for the accuracy benchmark (so it is not tuned to one scene).

* Photo-like: every surface is textured (wood planks, plaster, woven fabric, cardboard, a striped rug, leaves) and
  lit (a baked key light from above and one side, plus darkening where things meet), so a part is never one flat
  colour and shading changes colour across a single surface, as in a capture.
* Touching: the sofa's cushions press against each other and against its frame, in one fabric; two boxes stand
  flush against each other on the coffee table; five books stand side by side on a shelf, two of them in the same
  colour; a ball rests against the sofa; the rug lies flat on the floor.

Objects (with their parts): background (floor, wall_back, wall_left), rug, sofa (frame, seat_left, seat_right,
back_left, back_right, arm_left, arm_right), coffee_table (top, four legs), box_large, box_small, plant (pot, soil,
stem, leaves), ball, shelf (frame, board_low, board_mid, board_high), book_1 .. book_5. Z up, metres; ``layout_seed``
moves and turns the movable things (coffee table and what is on it, ball, plant) a little.
"""

from __future__ import annotations

import numpy as np

from .scene_types import ObjectSpec, PartSpec, SyntheticScene
from .shapes import Box, Lathe, Placed, Rect, Sphere, Union, cylinder, rotation
from .splat_sampling import scene_from_layout

LIGHT = np.array([0.45, -0.35, 0.82]) / np.linalg.norm([0.45, -0.35, 0.82])
FABRIC = (0.32, 0.38, 0.48)
OAK = (0.55, 0.40, 0.24)


def _waves(seed: int, scale: float, count: int = 6):
    """A smooth random field of 3D positions in [-1, 1]: a sum of plane waves of about ``scale`` metres."""
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(count, 3))
    k *= (2 * np.pi / scale) / np.linalg.norm(k, axis=1, keepdims=True) * rng.uniform(0.6, 1.6, (count, 1))
    phase = rng.uniform(0, 2 * np.pi, count)

    def field(p: np.ndarray) -> np.ndarray:
        return np.sin(p @ k.T + phase).mean(axis=1) * np.sqrt(2.0)

    return field


def planks(seed: int):
    grain, board = _waves(seed, 0.04), _waves(seed + 1, 0.6)

    def texture(p, colour):
        seam = np.abs(((p[:, 1] + 1.0) % 0.15) - 0.075) > 0.071  # dark gaps between floorboards
        shade = 1.0 + 0.10 * grain(p * np.array([1.0, 6.0, 1.0])) + 0.08 * board(p)
        return colour * np.where(seam, 0.55, shade)[:, None]

    return texture


def noise(seed: int, scale: float, amount: float):
    field = _waves(seed, scale)

    def texture(p, colour):
        return colour * (1.0 + amount * field(p))[:, None]

    return texture


def fabric(seed: int):
    coarse = _waves(seed, 0.3)

    def texture(p, colour):
        weave = np.sign(np.sin(p[:, 0] * 900.0) * np.sin((p[:, 1] + p[:, 2]) * 900.0))
        return colour * (1.0 + 0.05 * weave + 0.06 * coarse(p))[:, None]

    return texture


def stripes(other: tuple[float, float, float], period: float):
    def texture(p, colour):
        band = (np.floor(p[:, 0] / (period / 2)) % 2).astype(bool)
        return np.where(band[:, None], np.asarray(other), colour)

    return texture


def _shading(points: np.ndarray, normals: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """A baked key light (ambient 0.5 + 0.5 diffuse) and a soft darkening towards the floor."""
    diffuse = np.clip(normals @ LIGHT, 0.0, 1.0)
    near_floor = 1.0 - 0.25 * np.exp(-points[:, 2] / 0.05) * (points[:, 2] > 0.004)
    return colour * ((0.5 + 0.5 * diffuse) * near_floor)[:, None]


def room_scene_layout(layout_seed: int | None = None) -> list[ObjectSpec]:
    rng = np.random.default_rng(2000 + (layout_seed or 0))
    jitter = (lambda s: rng.uniform(-s, s)) if layout_seed is not None else (lambda s: 0.0)
    objects = [ObjectSpec("background", (
        PartSpec("floor", Rect(3.0, 3.0), OAK, 0.25, texture=planks(1)),
        PartSpec("wall_back", Placed(Rect(3.0, 2.2), rotation("x", np.pi / 2), (0.0, 1.5, 1.1)), (0.86, 0.84, 0.80),
                 0.2, texture=noise(2, 0.5, 0.05)),
        PartSpec("wall_left", Placed(Rect(2.2, 3.0), rotation("y", np.pi / 2), (-1.5, 0.0, 1.1)), (0.80, 0.84, 0.86),
                 0.2, texture=noise(3, 0.5, 0.05)),
    ))]  # fmt: skip
    rug = Placed(Box((1.6, 1.0, 0.008)), translation=(0.2, -0.1, 0.0))
    objects.append(ObjectSpec("rug", (PartSpec("rug", rug, (0.62, 0.18, 0.16), 1.0,
                                               texture=stripes((0.85, 0.78, 0.62), 0.2)),)))  # fmt: skip
    # sofa against the back wall: a frame, two seat and two back cushions, two arms, one fabric
    y0, w = 1.05, 0.85
    f = dict(rgb=FABRIC, density=1.5)
    cushion = (0.35, 0.32, 0.42)
    sofa = (
        PartSpec("frame", Placed(Box((1.9, 0.85, 0.25)), translation=(0.0, y0, 0.05)), (0.28, 0.33, 0.42), 1.0,
                 texture=fabric(4)),
        PartSpec("seat_left", Placed(Box((w, 0.62, 0.14)), translation=(-w / 2, y0 - 0.08, 0.30)), cushion, 2.0,
                 texture=fabric(5)),
        PartSpec("seat_right", Placed(Box((w, 0.62, 0.14)), translation=(w / 2, y0 - 0.08, 0.30)), cushion, 2.0,
                 texture=fabric(6)),
        PartSpec("back_left", Placed(Box((w, 0.2, 0.45)), rotation("x", -0.15), (-w / 2, y0 + 0.30, 0.30)),
                 **f, texture=fabric(7)),
        PartSpec("back_right", Placed(Box((w, 0.2, 0.45)), rotation("x", -0.15), (w / 2, y0 + 0.30, 0.30)),
                 **f, texture=fabric(8)),
        PartSpec("arm_left", Placed(Box((0.16, 0.85, 0.32)), translation=(-0.95 + 0.08, y0, 0.30)), **f,
                 texture=fabric(9)),
        PartSpec("arm_right", Placed(Box((0.16, 0.85, 0.32)), translation=(0.95 - 0.08, y0, 0.30)), **f,
                 texture=fabric(10)),
    )  # fmt: skip
    objects.append(ObjectSpec("sofa", sofa))
    # coffee table on the rug, with two boxes flush against each other and a plant
    tx, ty, tyaw = 0.15 + jitter(0.1), -0.15 + jitter(0.1), jitter(0.3)
    turn = rotation("z", tyaw)

    def on_table(surface, x, y, z=0.0):
        c, s = np.cos(tyaw), np.sin(tyaw)
        return Placed(Placed(surface, turn), translation=(tx + c * x - s * y, ty + s * x + c * y, 0.42 + z))

    legs = [PartSpec(f"leg_{i}", on_table(cylinder(0.022, 0.40), sx * 0.45, sy * 0.22, -0.42), (0.30, 0.20, 0.12),
                     1.0, texture=noise(20 + i, 0.05, 0.1))
            for i, (sx, sy) in enumerate(((-1, -1), (1, -1), (-1, 1), (1, 1)))]  # fmt: skip
    top = PartSpec("top", on_table(Box((1.0, 0.55, 0.04)), 0.0, 0.0, -0.04), OAK, 1.0, texture=planks(11))
    objects.append(ObjectSpec("coffee_table", (top, *legs)))
    cardboard = (0.66, 0.50, 0.33)
    objects.append(ObjectSpec("box_large", (PartSpec("box", on_table(Box((0.26, 0.20, 0.16)), -0.25, 0.05),
                                                     cardboard, 2.5, texture=noise(12, 0.03, 0.08)),)))  # fmt: skip
    small = on_table(Box((0.20, 0.20, 0.12)), -0.02, 0.05)  # flush against the large one
    objects.append(ObjectSpec("box_small", (PartSpec("box", small, (0.70, 0.55, 0.36), 2.5,
                                                     texture=noise(13, 0.03, 0.08)),)))  # fmt: skip
    pot = Lathe(((0.0, 0.0), (0.06, 0.0), (0.08, 0.14), (0.07, 0.14), (0.055, 0.01), (0.0, 0.01)))
    leaves = []
    for i in range(7):
        a = 2 * np.pi * i / 7 + 0.3
        leaf = Placed(Box((0.10, 0.035, 0.003)), translation=(0.05, 0.0, 0.0))  # a thin blade from the stem
        tilt = Placed(leaf, rotation("y", -0.45), (0.0, 0.0, 0.0))
        leaves.append(Placed(Placed(tilt, rotation("z", a)), translation=(0.0, 0.0, 0.20 + 0.03 * (i % 3))))
    plant = (
        PartSpec("pot", on_table(pot, 0.30, 0.02), (0.72, 0.36, 0.22), 3.0, texture=noise(14, 0.04, 0.06)),
        PartSpec("soil", on_table(Placed(Lathe(((0.0, 0.0), (0.072, 0.0))), translation=(0, 0, 0.12)), 0.30, 0.02),
                 (0.22, 0.15, 0.10), 3.0, texture=noise(15, 0.01, 0.2)),
        PartSpec("stem", on_table(cylinder(0.006, 0.12, bottom=False), 0.30, 0.02, 0.12), (0.25, 0.40, 0.15), 4.0),
        PartSpec("leaves", on_table(Union(tuple(leaves)), 0.30, 0.02), (0.20, 0.52, 0.20), 3.0,
                 texture=noise(16, 0.02, 0.15)),
    )  # fmt: skip
    objects.append(ObjectSpec("plant", plant))
    bx = 0.55 + jitter(0.15)
    ball = Placed(Sphere(0.12), translation=(bx, y0 - 0.55, 0.12))  # resting against the sofa's front
    objects.append(ObjectSpec("ball", (PartSpec("ball", ball, (0.90, 0.72, 0.15), 2.5,
                                                texture=stripes((0.15, 0.25, 0.7), 0.08)),)))  # fmt: skip
    # a shelf against the left wall, five books standing side by side on its middle board
    sx0, sy0 = -1.32, -0.6
    side = Box((0.32, 0.03, 1.2))
    frame = Placed(side, translation=(sx0, sy0 - 0.45, 0.0))
    frame2 = Placed(side, translation=(sx0, sy0 + 0.45, 0.0))
    boards = [PartSpec(f"board_{name}", Placed(Box((0.32, 0.87, 0.025)), translation=(sx0, sy0, z)), OAK, 1.5,
                       texture=planks(17 + i)) for i, (name, z) in enumerate((("low", 0.1), ("mid", 0.55),
                                                                              ("high", 1.0)))]  # fmt: skip
    objects.append(ObjectSpec("shelf", (PartSpec("frame", Union((frame, frame2)), OAK, 1.5, texture=planks(16)),
                                        *boards)))  # fmt: skip
    colours = [(0.55, 0.10, 0.10), (0.12, 0.25, 0.50), (0.12, 0.25, 0.50), (0.80, 0.70, 0.30), (0.20, 0.45, 0.25)]
    y = sy0 - 0.30
    for i, (thick, height) in enumerate(((0.045, 0.26), (0.035, 0.30), (0.05, 0.24), (0.04, 0.28), (0.06, 0.22))):
        book = Placed(Box((0.22, thick, height)), translation=(sx0 + 0.02, y + thick / 2, 0.575))
        objects.append(ObjectSpec(f"book_{i + 1}", (PartSpec("book", book, colours[i], 3.0,
                                                             texture=noise(30 + i, 0.05, 0.08)),)))  # fmt: skip
        y += thick  # flush against the next one
    return objects


def room_views(n: int, width: int = 256, height: int = 256, seed: int = 0, fov_deg: float = 60.0):
    """Cameras as someone capturing the room would place them: standing in its open part (x > -0.6, y < 0.5),
    at 0.6 to 1.8 m, each looking at a random point of the furnished area (engine ``Cameras``)."""
    from engine.cameras.cameras import Cameras, intrinsics, look_at_viewmats

    rng = np.random.default_rng(seed)
    eyes = np.stack([rng.uniform(-0.4, 1.4, n), rng.uniform(-1.4, 0.2, n), rng.uniform(0.6, 1.8, n)], 1)
    targets = np.stack([rng.uniform(-1.3, 0.9, n), rng.uniform(-0.9, 1.2, n), rng.uniform(0.1, 0.8, n)], 1)
    f = 0.5 * max(width, height) / np.tan(np.radians(fov_deg) / 2)
    Ks = np.repeat(intrinsics(f, f, width / 2, height / 2)[None], n, 0)
    return Cameras(look_at_viewmats(eyes, targets, np.array([0.0, 0.0, 1.0])), Ks, width, height,
                   [f"room_{i:04d}" for i in range(n)])  # fmt: skip


def generate_room_scene(n_gaussians: int = 200_000, seed: int = 0, layout_seed: int | None = None) -> SyntheticScene:
    """The labelled room corner with exactly ``n_gaussians`` Gaussians (same seeds, same bytes)."""
    rng = np.random.default_rng(seed)
    return scene_from_layout(room_scene_layout(layout_seed), n_gaussians, rng, foreground_from=1, shading=_shading,
                             table_top_z=0.42)  # fmt: skip
