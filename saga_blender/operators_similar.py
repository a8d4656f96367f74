"""Select Similar: from the active selection, every Gaussian whose SAGA feature matches it at the current Scale,
without clicking (repeated objects: all the chairs). The engine scores the features (``engine/query/similar.py``,
``POST /v1/scenes/{id}/similar``); this operator sends the selection's Gaussian ids and makes the answer a new
selection (vertex group), previewed and undoable."""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import FloatProperty

from .click_prompts import vertices_of_ids
from .engine_client import EngineError
from .engine_session import SESSION
from .operators_tool import gs_ids
from .selection_groups import SelectionError, group_mask, new_selection
from .splat_mesh import SOURCE_KEY, is_splat_object


class SAGA_OT_select_similar(bpy.types.Operator):
    """Select every Gaussian whose SAGA feature matches the active selection at the Scale (a new selection; the
    scene must be prepared)"""

    bl_idname = "saga.select_similar"
    bl_label = "Select Similar"
    bl_options = {"REGISTER", "UNDO"}

    scale: FloatProperty(name="Scale", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
                         description="Granularity: 0 the finest parts, 1 whole groups")  # fmt: skip
    threshold: FloatProperty(name="Threshold", default=0.75, min=0.0, max=1.0, subtype="FACTOR",
                             description="Similarity needed (gated cosine; SAGA: 0.75)")  # fmt: skip

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return is_splat_object(obj) and SESSION.client is not None and obj.vertex_groups.active is not None

    def invoke(self, context, event):
        wm = context.window_manager
        self.scale, self.threshold = wm.saga_scale, wm.saga_threshold
        return self.execute(context)

    def execute(self, context):
        obj = context.active_object
        group = obj.vertex_groups.active.name
        try:
            mask = group_mask(obj, group)
            ids = gs_ids(obj)
            selected = np.unique(ids[mask])
            if len(selected) == 0:
                raise SelectionError(f"the selection '{group}' is empty: nothing to match")
            scene_id, prepared = SESSION.scene_id_for(obj.get(SOURCE_KEY, ""))
            if not prepared:
                raise EngineError(409, f"'{obj.name}' is not prepared yet: run Prepare Scene first")
            similar = SESSION.require_client().similar(scene_id, selected, self.scale, self.threshold)
        except SelectionError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except EngineError as exc:
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        result = vertices_of_ids(ids, similar)
        name = new_selection(obj, f"{group} similar", result)
        added = int(result.sum() - mask.sum())
        self.report({"INFO"}, f"'{name}': {int(result.sum()):,} points ({added:+,} like '{group}' at scale "
                              f"{self.scale:.2f})")  # fmt: skip
        return {"FINISHED"}


CLASSES = (SAGA_OT_select_similar,)
