"""What the command-line shells share: argument types and how a read scene is reported (no engine work here)."""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2


class UsageError(ValueError):
    """A command was used wrongly in a way argparse cannot see (the message says how to use it)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line (``error: ...``, exit 2), like every other error of the engine."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def int_range(low: int, high: int):
    """argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return int_range(1, 2**62)(text)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def read_scene_for_command(path: str, sanitize: bool):
    """Read a scene; say on stderr what a sanitising read dropped."""
    from engine.api.scene_files import read_scene

    scene = read_scene(path, sanitize)
    if scene.sanitized:
        warn(f"{path}: {scene.sanitized}")
    return scene
