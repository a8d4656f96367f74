"""How a splat object looks: its Geometry Nodes display modifier and the splat material (Blender 4.2 and 5.0).

The mesh has one loose vertex per Gaussian, which no shading mode draws. The display modifier turns it into
geometry, in C++:

* **Footprints** (the default): one quad per Gaussian, ``centre +- u +- v`` where ``u``, ``v`` are its two largest
  axes times their standard deviations (``gs_footprint_u`` / ``_v``, computed on import), times *Point Size*. Built
  by two Extrude Mesh nodes (no instancing), which keep the mesh's colour attribute active, so the Solid shading
  mode shows the splat's colours when its colour is set to Attribute (the Splat panel's button does that), and
  Cycles / EEVEE render the quads with the splat material (emission of ``gs_color``).
* **Points**: "Mesh to Points" spheres of radius ``gs_radius`` times *Point Size* (faster; grey in Solid view).
* *Density*: the fraction of Gaussians drawn in the viewport (a fixed random subset, by ``gs_id``); renders use all.
  It starts at ``VIEWPORT_GAUSSIANS`` / count for big scenes (0.3 at 1M): each change of the mesh (a new selection
  included) re-evaluates the display, about 0.3 s per million footprints on 2 cores.
* *Highlight*: the name of a vertex group whose members are drawn in the highlight colour: the live preview of the
  selection operators (they set it to the selection they make; the Selections list's active group follows).
"""

from __future__ import annotations

import bpy

from .core.point_attributes import COLOR_ATTRIBUTE, FOOTPRINT_U, FOOTPRINT_V, ID_ATTRIBUTE, RADIUS_ATTRIBUTE

DISPLAY_GROUP = "SAGA Splat Display"
DISPLAY_VERSION = 3  # bumped when the group's inputs change; an older group in a file is replaced, not reused
DISPLAY_MODIFIER = "SAGA Display"
MATERIAL = "SAGA Splat"
HIGHLIGHT_COLOR = (1.0, 0.35, 0.05, 1.0)
#: attributes the display never draws, removed before it builds its geometry (renamed properties are ply_<i>)
DROPPED = ("f_*", "scale_*", "rot_*", "opacity", "nx", "ny", "nz", "ply_*", ID_ATTRIBUTE, "saga_*")
#: Gaussians drawn in the viewport by default: Density starts at this over the count (renders draw all)
VIEWPORT_GAUSSIANS = 300_000
INPUTS = {  # name: (socket type, default, description)
    "Footprints": ("NodeSocketBool", True, "Draw each Gaussian as its footprint quad (colours in Solid view); "
                                           "off: spheres"),
    "Point Size": ("NodeSocketFloat", 1.0, "Size of the drawn footprints / spheres, times the Gaussian's own"),
    "Density": ("NodeSocketFloat", 1.0, "Fraction of the Gaussians drawn in the viewport (renders draw all)"),
    "Highlight": ("NodeSocketString", "", "Vertex group drawn in the highlight colour (the selection preview)"),
}  # fmt: skip


def splat_material() -> bpy.types.Material:
    """The shared material: emission of the point's SH band-0 colour."""
    mat = bpy.data.materials.get(MATERIAL)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(MATERIAL)
    if mat.node_tree is None:  # Blender 4.x; from 5.0 every material has its node tree
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    attr = nodes.new("ShaderNodeAttribute")
    attr.attribute_type = "GEOMETRY"
    attr.attribute_name = COLOR_ATTRIBUTE
    emit = nodes.new("ShaderNodeEmission")
    out = nodes.new("ShaderNodeOutputMaterial")
    links.new(attr.outputs["Color"], emit.inputs["Color"])
    links.new(emit.outputs["Emission"], out.inputs["Surface"])
    return mat


class _Builder:
    def __init__(self, ng):
        self.ng = ng

    def node(self, kind: str, **settings):
        node = self.ng.nodes.new(kind)
        for key, value in settings.items():
            setattr(node, key, value)
        return node

    def link(self, a, b) -> None:
        self.ng.links.new(a, b)

    def attribute(self, name: str | None, data_type: str, name_socket=None):
        node = self.node("GeometryNodeInputNamedAttribute", data_type=data_type)
        if name_socket is not None:
            self.link(name_socket, node.inputs["Name"])
        else:
            node.inputs["Name"].default_value = name
        return node.outputs["Attribute"]

    def math(self, operation: str, a, b=None, vector: bool = False):
        node = self.node("ShaderNodeVectorMath" if vector else "ShaderNodeMath", operation=operation)
        for i, value in enumerate((a, b)):
            if value is None:
                continue
            socket = node.inputs["Scale"] if vector and operation == "SCALE" and i == 1 else node.inputs[i]
            if isinstance(value, (int, float)):
                socket.default_value = value
            else:
                self.link(value, socket)
        return node.outputs[0]


def _wildcard(remove_node) -> None:
    """Remove Named Attribute matching a pattern: a node property in Blender 4.2, a menu input from 4.3."""
    if "pattern_mode" in remove_node.bl_rna.properties:
        remove_node.pattern_mode = "WILDCARD"
    else:
        remove_node.inputs["Pattern Mode"].default_value = "Wildcard"


def _socket(sockets, identifier: str):
    for socket in sockets:
        if socket.identifier == identifier:
            return socket
    raise RuntimeError(f"no socket {identifier!r}")


def _enabled_output(node, data_type_label: str):
    """The output of a multi-type node that is enabled for its data type (Random Value, Switch...)."""
    for out in node.outputs:
        if out.enabled and (not data_type_label or out.type == data_type_label):
            return out
    raise RuntimeError(f"{node.bl_idname}: no enabled {data_type_label} output")


def display_group() -> bpy.types.NodeTree:
    ng = bpy.data.node_groups.get(DISPLAY_GROUP)
    if ng is not None and ng.get("saga_version") == DISPLAY_VERSION:
        return ng
    if ng is not None:
        ng.name = f"{DISPLAY_GROUP} (version {ng.get('saga_version', 1)})"  # older objects keep theirs
    ng = bpy.data.node_groups.new(DISPLAY_GROUP, "GeometryNodeTree")
    ng["saga_version"] = DISPLAY_VERSION
    ng.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    for name, (kind, default, description) in INPUTS.items():
        socket = ng.interface.new_socket(name, in_out="INPUT", socket_type=kind)
        socket.default_value = default
        socket.description = description
        if name in ("Point Size", "Density"):
            socket.min_value = 0.0
            socket.max_value = 1.0 if name == "Density" else 100.0
    ng.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    b = _Builder(ng)
    gi, go = b.node("NodeGroupInput"), b.node("NodeGroupOutput")
    size = gi.outputs["Point Size"]

    # density: in the viewport, drop a fixed random subset (by gs_id, so it does not flicker as points change)
    keep = b.node("FunctionNodeRandomValue", data_type="BOOLEAN")
    b.link(b.attribute(ID_ATTRIBUTE, "INT"), keep.inputs["ID"])
    b.link(gi.outputs["Density"], keep.inputs["Probability"])
    drop = b.node("FunctionNodeBooleanMath", operation="NIMPLY")  # viewport and not kept
    b.link(b.node("GeometryNodeIsViewport").outputs[0], drop.inputs[0])
    b.link(_enabled_output(keep, "BOOLEAN"), drop.inputs[1])
    thin = b.node("GeometryNodeDeleteGeometry", domain="POINT")
    b.link(gi.outputs[0], thin.inputs["Geometry"])
    b.link(drop.outputs[0], thin.inputs["Selection"])

    # highlight: mix the colour of the Highlight group's members
    mix = b.node("ShaderNodeMix", data_type="RGBA")
    b.link(b.attribute(None, "FLOAT", gi.outputs["Highlight"]), _socket(mix.inputs, "Factor_Float"))
    b.link(b.attribute(COLOR_ATTRIBUTE, "FLOAT_COLOR"), _socket(mix.inputs, "A_Color"))
    _socket(mix.inputs, "B_Color").default_value = HIGHLIGHT_COLOR
    store = b.node("GeometryNodeStoreNamedAttribute", data_type="FLOAT_COLOR", domain="POINT")
    store.inputs["Name"].default_value = COLOR_ATTRIBUTE
    b.link(thin.outputs[0], store.inputs["Geometry"])
    b.link(_enabled_output(mix, "RGBA"), store.inputs["Value"])
    coloured = store.outputs["Geometry"]
    # drop what the display does not draw (SH, scales, rotations...): the extrusions would copy it 4 times over
    for pattern in DROPPED:
        remove = b.node("GeometryNodeRemoveAttribute")
        if "*" in pattern:
            _wildcard(remove)
        remove.inputs["Name"].default_value = pattern
        b.link(coloured, remove.inputs["Geometry"])
        coloured = remove.outputs["Geometry"]

    # footprints: move to centre - u - v, extrude the vertex by 2u (an edge), extrude the edge by 2v (the quad)
    u = b.math("SCALE", b.attribute(FOOTPRINT_U, "FLOAT_VECTOR"), size, vector=True)
    v = b.math("SCALE", b.attribute(FOOTPRINT_V, "FLOAT_VECTOR"), size, vector=True)
    corner = b.node("GeometryNodeSetPosition")
    b.link(coloured, corner.inputs["Geometry"])
    b.link(b.math("SCALE", b.math("ADD", u, v, vector=True), -1.0, vector=True), corner.inputs["Offset"])
    edge = b.node("GeometryNodeExtrudeMesh", mode="VERTICES")
    b.link(corner.outputs[0], edge.inputs["Mesh"])
    b.link(b.math("SCALE", b.attribute(FOOTPRINT_U, "FLOAT_VECTOR"), b.math("MULTIPLY", size, 2.0), vector=True),
           edge.inputs["Offset"])  # fmt: skip
    quad = b.node("GeometryNodeExtrudeMesh", mode="EDGES")
    b.link(edge.outputs["Mesh"], quad.inputs["Mesh"])
    b.link(b.math("SCALE", b.attribute(FOOTPRINT_V, "FLOAT_VECTOR"), b.math("MULTIPLY", size, 2.0), vector=True),
           quad.inputs["Offset"])  # fmt: skip

    # points: spheres of the Gaussian's mean radius
    points = b.node("GeometryNodeMeshToPoints")
    b.link(coloured, points.inputs["Mesh"])
    b.link(b.math("MULTIPLY", b.attribute(RADIUS_ATTRIBUTE, "FLOAT"), size), points.inputs["Radius"])

    switch = b.node("GeometryNodeSwitch", input_type="GEOMETRY")
    b.link(gi.outputs["Footprints"], switch.inputs[0])
    b.link(points.outputs["Points"], switch.inputs[1])  # False
    b.link(quad.outputs["Mesh"], switch.inputs[2])  # True
    set_mat = b.node("GeometryNodeSetMaterial")
    set_mat.inputs["Material"].default_value = splat_material()
    b.link(_enabled_output(switch, "GEOMETRY"), set_mat.inputs["Geometry"])
    b.link(set_mat.outputs["Geometry"], go.inputs[0])
    return ng


def add_display_modifier(obj: bpy.types.Object) -> bpy.types.Modifier:
    """The display modifier, its Density at most ``VIEWPORT_GAUSSIANS`` over the count (big scenes stay fluid)."""
    mod = obj.modifiers.new(DISPLAY_MODIFIER, "NODES")
    mod.node_group = display_group()
    if obj.data.materials.get(MATERIAL) is None:
        obj.data.materials.append(splat_material())
    count = len(obj.data.vertices)
    if count > VIEWPORT_GAUSSIANS:
        mod[input_identifier(mod, "Density")] = VIEWPORT_GAUSSIANS / count
    return mod


def display_modifier(obj) -> bpy.types.Modifier | None:
    mod = obj.modifiers.get(DISPLAY_MODIFIER)
    if mod is None or mod.type != "NODES" or mod.node_group is None:
        return None
    return mod


def input_identifier(mod, name: str) -> str | None:
    """The modifier key of the display group's input ``name`` (None for an older group without it)."""
    for item in mod.node_group.interface.items_tree:
        if getattr(item, "in_out", None) == "INPUT" and item.name == name:
            return item.identifier
    return None


def set_display_input(obj, name: str, value) -> bool:
    """Set a display input (e.g. ``Highlight``) on the object's display modifier; False if it has none."""
    mod = display_modifier(obj)
    key = input_identifier(mod, name) if mod is not None else None
    if key is None:
        return False
    if mod.get(key) != value:
        mod[key] = value
        obj.update_tag()
    return True


def get_display_input(obj, name: str, default=None):
    mod = display_modifier(obj)
    key = input_identifier(mod, name) if mod is not None else None
    return default if key is None else mod.get(key, default)


def use_attribute_colours(shading, flat: bool = True) -> None:
    """Solid shading in the splat's colours: the active colour attribute (``gs_color``), unlit when ``flat``."""
    shading.color_type = "VERTEX"
    if flat:
        shading.light = "FLAT"


def show_solid_colours(context) -> int:
    """Give the current screen's 3D viewports that show Solid mode in the default material colour the splat's colours
    instead (import does it); returns how many changed."""
    changed = 0
    screen = getattr(context, "screen", None)
    for area in screen.areas if screen is not None else ():
        for space in area.spaces if area.type == "VIEW_3D" else ():
            if space.type == "VIEW_3D" and space.shading.type == "SOLID" and space.shading.color_type == "MATERIAL":
                use_attribute_colours(space.shading, flat=False)
                changed += 1
    return changed
