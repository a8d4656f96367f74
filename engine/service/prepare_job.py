"""The prepare job of the service: the request model is made from ``PrepareSpec`` (same options, defaults and
ranges as ``saga-engine train``), checked at once with ``plan_prepare`` (a bad request is a 4xx, not a failed job),
and run with ``run_prepare`` in a job thread."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from engine.api.prepare import plan_prepare, run_prepare
from engine.api.prepare_spec import PrepareSpec

from .state import EngineState, Job, OpenScene


def _request_field(f):
    meta = f.metadata
    kw = {"description": meta["help"]}
    if meta["low"] is not None:
        kw.update(ge=meta["low"], le=meta["high"])
    if meta["path"]:
        kw.update(min_length=1, max_length=4096)
    if f.name == "views":
        kw.update(max_length=32)
    if meta["choices"]:
        kind = Literal[meta["choices"]]
    else:
        kind = {"bool": bool, "int": int, "int | None": int | None, "str": str, "str | None": str | None}[f.type]
    return kind, Field(f.default, **kw)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


PrepareRequest = create_model(
    "PrepareRequest", __base__=_Strict, __doc__="Where the training views come from, which masks, and the training "
    "budget (the options of saga-engine train).", **{f.name: _request_field(f) for f in PrepareSpec.fields()},
)  # fmt: skip


def prepare_work(state: EngineState, scene: OpenScene, req):
    """Check the request now and return the job's work function (client paths go through the engine's path rules)."""
    values = req.model_dump()
    for f in PrepareSpec.fields():
        if f.metadata["path"] and values[f.name]:
            values[f.name] = state.paths.existing(values[f.name], f.metadata["path"])
    plan = plan_prepare(scene.scene, scene.workdir, PrepareSpec.from_dict(values))

    def work(job: Job) -> None:
        def progress(p) -> None:
            job.stage, job.percent, job.eta_s, job.message = p.stage, p.percent, p.eta_s, p.message

        run_prepare(plan, progress=progress, cancel=job.cancel)

    return work
