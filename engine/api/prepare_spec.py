"""What a prepare is asked to do: every option and every default, written once.

The CLI (``saga-engine train``) makes its arguments from these fields, the service makes its request model from
them, the demo and Blender send them; ``PrepareSpec.check()`` is the one validation, and ``resolved()`` turns the
device-dependent defaults (``None``) into numbers.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

#: defaults that depend on the device the prepare runs on
DEVICE_DEFAULTS = {
    "cpu": {"size": 256, "iterations": 2000, "pixels": 400},
    "cuda": {"size": 512, "iterations": 10_000, "pixels": 1000},
}
MAX_AUTO_VIEWS = 1024


class SpecError(ValueError):
    """An option of a prepare is out of range or inconsistent. The message is a template naming options as
    ``{option}``: ``str()`` shows plain names (the service's), ``for_cli()`` shows ``--option`` flags."""

    def __init__(self, template: str):
        self.template = template
        super().__init__(template.replace("{", "").replace("}", ""))

    def for_cli(self) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: "--" + m.group(1).replace("_", "-"), self.template)


def option(default, help: str, *, choices: tuple | None = None, low: int | None = None, high: int | None = None,
           path: str | None = None):  # fmt: skip
    """A spec field with what the CLI and the service need to offer it (help, choices, integer range, and for a path
    what it names: "file" or "folder")."""
    meta = {"help": help, "choices": choices, "low": low, "high": high, "path": path}
    return field(default=default, metadata=meta)


def parse_auto_views(text: str) -> int:
    """N of ``auto:N`` (1..MAX_AUTO_VIEWS)."""
    if not isinstance(text, str) or not text.startswith("auto:") or not text[5:].isdigit():
        raise SpecError(f"{{views}}: expected auto:N (N views rendered from the splat) or 'capture', got {text!r}")
    n = int(text[5:])
    if not 1 <= n <= MAX_AUTO_VIEWS:
        raise SpecError(f"{{views}}: auto:N needs N from 1 to {MAX_AUTO_VIEWS}, got {n}")
    return n


@dataclass(frozen=True)
class PrepareSpec:
    views: str = option("auto:32", "auto:N (N views rendered from the splat itself) or 'capture' (the original "
                        "photos, with colmap or transforms, and images)")  # fmt: skip
    colmap: str | None = option(None, "COLMAP model folder of the capture (sparse/0 or its parent)", path="folder")
    transforms: str | None = option(None, "transforms.json of the capture", path="file")
    images: str | None = option(None, "folder of the capture's photos", path="folder")
    layout: str = option("auto", "layout of automatic views", choices=("auto", "object", "room"))
    close_ups: int = option(0, "close-up views of the scene's most detailed places (2x closer than the overview "
                            "views), rendered from the splat and added to the views (automatic or a capture's): parts "
                            "gain, objects may lose a little (README, accuracy)",
                            low=0, high=256)  # fmt: skip
    size: int | None = option(None, "longest image side the engine trains at (default 256 on CPU, 512 on GPU); "
                              "clicks and masks stay in each view's own pixels", low=16, high=4096)  # fmt: skip
    masks: str = option("fallback", "fallback: weights-free masks from each picture's colour and depth; geometric: "
                        "weights-free masks from the splat's 3D segmentation; sam: SAM automatic masks; dir: your "
                        "masks from masks_dir", choices=("fallback", "geometric", "sam", "dir"))  # fmt: skip
    sam_checkpoint: str | None = option(None, "SAM checkpoint file, e.g. sam_vit_h_4b8939.pth", path="file")
    sam_model: str = option("vit_h", "SAM model of the checkpoint", choices=("vit_h", "vit_l", "vit_b"))
    masks_dir: str | None = option(None, "folder of your masks (see engine/masks/user_masks.py)", path="folder")
    iterations: int | None = option(None, "training iterations (default 2000 on CPU, 10000 on GPU)", low=1,
                                    high=1_000_000)  # fmt: skip
    pixels: int | None = option(None, "pixels per iteration (default 400 on CPU, 1000 on GPU)", low=16, high=8192)
    seed: int = option(0, "random seed of training", low=0, high=2**31 - 1)
    device: str = option("auto", "where to train", choices=("auto", "cpu", "cuda"))
    fill_hidden: bool = option(True, "Gaussians no view sees take the features of the seen ones around them (their "
                               "own part's, where the masks come from the splat's 3D segmentation)")  # fmt: skip
    identity: str = option("nested", "what a pixel is at a scale while training: nested (each thing from its own scale "
                           "up to its parent's: a die stays the die until the table's scale) or saga (SAGA's eq. 6: "
                           "from just above its own scale on, the next larger mask)", choices=("nested", "saga"))
    keep_records: bool = option(False, "keep the per-view training records (hundreds of MB) in the work folder")

    @staticmethod
    def fields() -> tuple[dataclasses.Field, ...]:
        return dataclasses.fields(PrepareSpec)

    @property
    def from_capture(self) -> bool:
        return self.views == "capture"

    def check(self) -> PrepareSpec:
        """Raise SpecError for the first option that is out of range or inconsistent; returns self."""
        for f in self.fields():
            value, meta = getattr(self, f.name), f.metadata
            if value is None:
                continue
            if meta["choices"] and value not in meta["choices"]:
                raise SpecError(f"{{{f.name}}}: expected one of {', '.join(meta['choices'])}, got {value!r}")
            if meta["low"] is not None:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise SpecError(f"{{{f.name}}}: expected a whole number, got {value!r}")
                if not meta["low"] <= value <= meta["high"]:
                    raise SpecError(f"{{{f.name}}}: must be from {meta['low']} to {meta['high']}, got {value}")
            if meta["path"] and (not isinstance(value, str) or not value or "\x00" in value):
                raise SpecError(f"{{{f.name}}}: expected a path, got {value!r}")
        if self.from_capture:
            if not (self.colmap or self.transforms):
                raise SpecError("a capture needs {colmap} (a COLMAP model folder) or {transforms} (a "
                                "transforms.json), and {images} (the photos' folder)")  # fmt: skip
            if self.colmap and self.transforms:
                raise SpecError("give either {colmap} or {transforms}, not both")
            if not self.images:
                raise SpecError("a capture needs {images}: the folder of its photos")
        else:
            parse_auto_views(self.views)
            if self.colmap or self.transforms:
                raise SpecError("{colmap} / {transforms} name a capture: give either them or {views} auto:N, not both")
        if self.masks == "sam" and not self.sam_checkpoint:
            raise SpecError("{masks} sam needs {sam_checkpoint} (e.g. sam_vit_h_4b8939.pth); or use {masks} "
                            "fallback, which needs no model file")  # fmt: skip
        if self.masks == "dir" and not self.masks_dir:
            raise SpecError("{masks} dir needs {masks_dir}: the folder of your masks")
        if self.masks == "dir" and self.close_ups:
            raise SpecError("{close_ups} renders new views, which your masks in {masks_dir} do not cover: give "
                            "{close_ups} 0 with {masks} dir")  # fmt: skip
        return self

    def resolved(self, device: str) -> ResolvedPrepare:
        """The concrete numbers for a device ('cpu' or 'cuda')."""
        self.check()
        d = DEVICE_DEFAULTS[device]
        pick = {k: d[k] if getattr(self, k) is None else getattr(self, k) for k in d}
        return ResolvedPrepare(self, device, pick["size"], pick["iterations"], pick["pixels"])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(values: dict) -> PrepareSpec:
        """A spec from a mapping of option names (unknown names are an error)."""
        known = {f.name for f in PrepareSpec.fields()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SpecError(
                f"unknown prepare option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})".replace(
                    "{", "("
                ).replace("}", ")")
            )
        return PrepareSpec(**values).check()


@dataclass(frozen=True)
class ResolvedPrepare:
    spec: PrepareSpec
    device: str
    size: int
    iterations: int
    pixels: int
