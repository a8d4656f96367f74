"""Errors raised by the splat readers and writers."""

from __future__ import annotations

import os


class SplatFileError(ValueError):
    """A splat file cannot be read or written. The message names the file and the problem."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{problem}")


class NonFiniteValuesError(SplatFileError):
    """The file holds NaN or infinite values and the caller asked to refuse them (the default)."""

    def __init__(self, path, report):
        self.report = report
        super().__init__(
            path,
            f"{report.summary()}. Fix the file, or read it with sanitize=True "
            "(CLI: --sanitize) to drop the affected Gaussians.",
        )


class FileWriteError(OSError):
    """A file cannot be written (permission, missing folder, ...). The message names the file and the problem."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class DiskFullError(FileWriteError):
    """A file cannot be written because its disk is full (nothing is left half-written)."""
