"""The task message a worker receives: a run id, versioned, and nothing else."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from botarmy_nb.errors import ConfigError

__all__ = ["PAYLOAD_VERSION", "PayloadError", "TaskPayload"]

PAYLOAD_VERSION = 1  # bump when the message changes shape; workers refuse newer ones


class PayloadError(ConfigError):
    """A task message this worker cannot execute; ``run_id`` is set when it names a run."""

    def __init__(self, message: str, run_id: str | None) -> None:
        super().__init__(message)
        self.run_id = run_id


class TaskPayload(BaseModel):
    """What a run's Celery task carries: its id (the request is read from the store)."""

    type: Literal["run"] = "run"
    version: int = PAYLOAD_VERSION
    run_id: str

    @classmethod
    def parse(cls, data: Any) -> TaskPayload:
        """The payload, or PayloadError saying why a worker must refuse it."""
        run_id = data.get("run_id") if isinstance(data, dict) else None
        run_id = run_id if isinstance(run_id, str) else None
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int) and version > PAYLOAD_VERSION:
            raise PayloadError(
                f"the task for this run was sent by a newer botarmy-nb (payload version "
                f"{version}, this worker understands {PAYLOAD_VERSION}); upgrade the worker",
                run_id,
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise PayloadError(f"the task message is not valid: {exc}", run_id) from None
