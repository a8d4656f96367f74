"""The histogram pictures of Select by Attribute, as preview icons a panel can draw (``layout.template_icon``).

One picture per (mesh, measure), redrawn with the cut each time the operator runs; the last one made for an object
is what the Clean Up panel shows. Previews live outside the .blend file (``bpy.utils.previews``) and are freed when
the add-on is disabled. The pixels come from ``core.histogram_image``.
"""

from __future__ import annotations

import numpy as np

from .core.histogram_image import histogram_image
from .core.splat_measures import histogram

_STATE = {"previews": None, "histograms": {}, "last": {}}


def _previews():
    if _STATE["previews"] is None:
        import bpy.utils.previews

        _STATE["previews"] = bpy.utils.previews.new()
    return _STATE["previews"]


def histogram_icon(obj, measure: str, values: np.ndarray | None = None, cut: float | None = None) -> int:
    """Icon id of the histogram picture of ``measure`` for ``obj`` (0 if none was made). With ``values`` the
    histogram is recomputed, with ``cut`` the picture redrawn at that cut."""
    key = f"{obj.data.as_pointer()}:{measure}"
    histograms = _STATE["histograms"]
    if values is not None:
        histograms[key] = [histogram(measure, values), cut]
    if key not in histograms:
        return 0
    entry = histograms[key]
    previews = _previews()
    preview = previews.get(key)
    if cut is not None or preview is None:
        entry[1] = cut if cut is not None else entry[1]
        image = histogram_image(entry[0], entry[1] if entry[1] is not None else entry[0].edges[0])
        if preview is None:
            preview = previews.new(key)
        preview.image_size = (image.shape[1], image.shape[0])
        preview.image_pixels_float.foreach_set(image.ravel())
    _STATE["last"][obj.data.as_pointer()] = measure
    return preview.icon_id


def last_measure(obj) -> str | None:
    """The measure whose histogram was made last for ``obj`` (for the panel), or None."""
    return _STATE["last"].get(obj.data.as_pointer())


def histogram_pixels(obj, measure: str) -> np.ndarray | None:
    """float32 [H, W, 4] of the current picture (what the panel shows), or None."""
    preview = _STATE["previews"].get(f"{obj.data.as_pointer()}:{measure}") if _STATE["previews"] else None
    if preview is None:
        return None
    w, h = preview.image_size
    out = np.empty(w * h * 4, np.float32)
    preview.image_pixels_float.foreach_get(out)
    return out.reshape(h, w, 4)


def unregister() -> None:
    if _STATE["previews"] is not None:
        import bpy.utils.previews

        bpy.utils.previews.remove(_STATE["previews"])
    _STATE.update(previews=None, histograms={}, last={})
