"""The mask-recall benchmark run as a process, as the README names it: one line per scene and source."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_mask_recall_prints_each_label_in_range():
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "mask_recall.py"), "--scenes", "table:0", "--sources",
         "fallback", "--gaussians", "8000", "--views", "2", "--size", "96", "--each"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    head = re.search(r"\[table:0 / fallback\] objects ([0-9.]+) parts ([0-9.]+); (\d+) masks a view", proc.stdout)
    assert head, proc.stdout
    objects, parts, masks = float(head[1]), float(head[2]), int(head[3])
    assert 0.3 < objects <= 1.0 and 0.0 < parts <= 1.0 and masks > 0
    each = re.search(r"objects: (.*)", proc.stdout.split("\n", 2)[2])
    values = [float(v.rsplit(" ", 1)[1]) for v in each[1].split(", ")]
    assert values == sorted(values) and all(0.0 <= v <= 1.0 for v in values)
