"""The reference converter, for format tests: ``@playcanvas/splat-transform`` (its CLI) and the reference ``.spz``
library it ships (``@adobe/spz``, nianticlabs/spz compiled to WebAssembly), installed into ``.node/`` by
``scripts/setup_node_tools.sh``. Tests get them through the ``splat_transform`` fixture, which skips (saying why)
where node or the package is absent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO_ROOT / ".node" / "node_modules"
CLI = NODE_MODULES / "@playcanvas" / "splat-transform" / "bin" / "cli.mjs"
SPZ_SCRIPT = Path(__file__).resolve().parent / "node" / "spz_reference.mjs"
TIMEOUT_S = 300
SPZ_FIELDS = {"positions": 3, "scales": 3, "rotations": 4, "alphas": 1, "colors": 3}


def missing_reason() -> str | None:
    """Why the reference converter cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed: the tests against @playcanvas/splat-transform need it"
    if not CLI.exists() or not (NODE_MODULES / "@adobe" / "spz").is_dir():
        return "@playcanvas/splat-transform is not installed (bash scripts/setup_node_tools.sh, needs npm)"
    return None


class ReferenceConverter:
    def __init__(self):
        self.node = shutil.which("node")

    def _run(self, args: list[str]) -> subprocess.CompletedProcess:
        env = {**os.environ, "SAGA_NODE_MODULES": str(NODE_MODULES)}
        done = subprocess.run([self.node, *args], capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
        if done.returncode != 0:
            raise AssertionError(f"node {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def convert(self, source, target, *options: str) -> None:
        """``splat-transform [options] SOURCE TARGET`` (overwriting, on the CPU)."""
        self._run([str(CLI), "-q", "-w", "-g", "cpu", *options, str(source), str(target)])

    def spz_write(self, splat, target, version: int, folder: Path) -> None:
        """``splat`` (a GaussianSplat) written by the reference .spz encoder, raw values, no axis conversion."""
        folder.mkdir(parents=True, exist_ok=True)
        n = len(splat)
        values = {
            "positions": splat.means, "scales": splat.log_scales, "rotations": splat.quats[:, [1, 2, 3, 0]],
            "alphas": splat.opacity_logits, "colors": splat.sh_dc, "sh": splat.sh_rest.reshape(n, -1),
        }  # fmt: skip
        for name, array in values.items():
            np.ascontiguousarray(array, "<f4").tofile(folder / f"{name}.bin")
        (folder / "meta.json").write_text(json.dumps({"count": n, "sh_degree": splat.sh_degree}))
        self._run([str(SPZ_SCRIPT), "write", str(folder), str(target), str(version)])

    def spz_read(self, source, folder: Path) -> dict:
        """The reference decoder's values of a .spz: {positions [N,3], scales (log), rotations (w,x,y,z),
        alphas (logit), colors (SH band 0), sh [N, K-1, 3]}."""
        self._run([str(SPZ_SCRIPT), "read", str(source), str(folder)])
        meta = json.loads((folder / "meta.json").read_text())
        n = meta["count"]
        out = {name: np.fromfile(folder / f"{name}.bin", "<f4").reshape(n, k) for name, k in SPZ_FIELDS.items()}
        out["alphas"] = out["alphas"][:, 0]
        out["rotations"] = out["rotations"][:, [3, 0, 1, 2]]
        out["sh"] = np.fromfile(folder / "sh.bin", "<f4").reshape(n, -1, 3)
        out["sh_degree"] = meta["sh_degree"]
        return out
