"""The engine's layers, checked on its import graph (imports inside functions count too):

* no import cycle anywhere in ``engine``;
* each layer imports only layers below it: ``saga_blender.core`` < the library (cameras, render, views, masks,
  training, query, evaluation, synthetic) < ``engine.api`` < the shells (cli, train_command, query_commands, demo,
  service); ``masks`` never imports ``training``; nothing in ``engine`` imports ``bpy`` or the Blender layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
SHELLS = ("engine.cli", "engine.cli_support", "engine.train_command", "engine.query_commands", "engine.demo",
          "engine.service", "engine.__main__")  # fmt: skip
LIBRARY = ("engine.cameras", "engine.render", "engine.views", "engine.masks", "engine.training", "engine.query",
           "engine.evaluation", "engine.synthetic", "engine.splat_segments")  # fmt: skip
#: inside the library, who may import whom (a package may always import itself)
LIBRARY_BELOW = {
    "engine.cameras": set(),
    "engine.render": {"engine.cameras"},
    "engine.views": {"engine.cameras", "engine.render"},
    "engine.splat_segments": {"engine.cameras", "engine.render"},
    "engine.masks": {"engine.cameras", "engine.render", "engine.views", "engine.splat_segments"},
    "engine.training": {"engine.cameras", "engine.render", "engine.views", "engine.masks"},
    "engine.query": {"engine.cameras", "engine.render", "engine.training"},
    "engine.evaluation": {"engine.cameras", "engine.render", "engine.query", "engine.training", "engine.synthetic"},
    "engine.synthetic": {"engine.cameras", "engine.render", "engine.views", "engine.masks", "engine.training",
                         "engine.query"},
}  # fmt: skip


def module_name(path: Path) -> str:
    rel = path.relative_to(ENGINE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)  # "from pkg import module"
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ENGINE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = {m for m in imports_of(path) if m in modules and m != name}
    return edges


def layer_of(module: str) -> str:
    for shell in SHELLS:
        if module == shell or module.startswith(shell + "."):
            return "shell"
    if module == "engine.api" or module.startswith("engine.api."):
        return "api"
    if module == "engine":
        return "root"
    for lib in LIBRARY:
        if module == lib or module.startswith(lib + "."):
            return lib
    raise AssertionError(f"{module} belongs to no layer: add it to the layer list in this test and the README")


def test_every_module_has_a_layer(graph):
    for module in graph:
        layer_of(module)


def test_no_import_cycle(graph):
    """Tarjan's strongly connected components: every one must be a single module."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    # packages import their own modules from __init__ only for docs; a package and its module may not cycle either
    assert cycles == [], f"import cycles: {cycles}"


def test_layers_only_import_downwards(graph):
    rank = {"root": 0, "lib": 1, "api": 2, "shell": 3}
    bad = []
    for module, targets in graph.items():
        src = layer_of(module)
        for target in targets:
            dst = layer_of(target)
            if dst == "root":
                continue
            if src in LIBRARY_BELOW and dst in LIBRARY_BELOW:
                if dst != src and dst not in LIBRARY_BELOW[src]:
                    bad.append(f"{module} -> {target} ({src} may not import {dst})")
                continue
            s, d = rank["lib" if src in LIBRARY_BELOW else src], rank["lib" if dst in LIBRARY_BELOW else dst]
            if d > s:
                bad.append(f"{module} -> {target} (the {src} layer may not import the {dst} layer)")
    assert bad == [], "\n".join(bad)


def test_engine_never_imports_blender():
    bad = []
    for path in ENGINE.rglob("*.py"):
        for m in imports_of(path):
            top = m.split(".")[0]
            blender_layer = m.startswith("saga_blender.") and not m.startswith("saga_blender.core")
            if top in ("bpy", "bmesh", "mathutils", "gpu", "bpy_extras") or blender_layer:
                bad.append(f"{module_name(path)} imports {m}")
    assert bad == []
