"""The errors a user or a client can cause, as the engine API raises them. Shells map exactly these to a one-line
message (CLI, exit 2) or a 4xx answer (service); anything else is a bug and keeps its traceback."""

from __future__ import annotations

from engine.cameras.cameras import CameraFileError
from engine.masks.source import MaskSourceError
from engine.query.prompts import PromptError
from engine.render.rasterization import BackendUnavailableError
from engine.training.checkpoint import CheckpointError
from saga_blender.core.errors import FileWriteError, SplatFileError

from .npy_files import ArrayInputError
from .prepare_spec import SpecError
from .work_folder import WorkFolderBusyError

USER_ERRORS = (
    SplatFileError, CameraFileError, MaskSourceError, CheckpointError, PromptError, SpecError, ArrayInputError,
    FileWriteError, WorkFolderBusyError, BackendUnavailableError,
)  # fmt: skip
