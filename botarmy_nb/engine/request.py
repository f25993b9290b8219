"""RunRequest: everything a worker needs to execute a run, stored with the run as JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from botarmy_nb.errors import ConfigError
from botarmy_nb.specs.team import TeamSpec

__all__ = ["REQUEST_VERSION", "RunRequest"]

REQUEST_VERSION = 1  # bump when a stored request changes shape; workers refuse newer ones


class RunRequest(BaseModel):
    version: int = REQUEST_VERSION
    task: str
    team: TeamSpec | None = None  # a team run; or one of:
    workflow: str | None = None  # a BMAD-compatible workflow id
    template: str | None = None  # a BMAD-compatible template (one document)
    bmad_roots: list[str] | None = None  # the core folders, in search order
    default_model: str
    agent_models: dict[str, str] = Field(default_factory=dict)
    variables: dict[str, str] = Field(default_factory=dict)
    max_turns: int | None = None
    record_path: str | None = None  # write the run's model calls to this cassette
    checkpoint_interval_s: float = 1.0  # at most one mid-run checkpoint per interval
    # how long a question to a human waits for an answer; None: no human is attached and
    # the run goes on with the default answer at once (scripts, CI, shared notebooks)
    hitl_timeout_s: float | None = None
    followups: list[str] = Field(default_factory=list)  # messages that continued the run

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> RunRequest:
        """The request stored with a run, refused clearly if a newer botarmy-nb wrote it."""
        version = data.get("version", 1)
        if not isinstance(version, int) or version > REQUEST_VERSION:
            raise ConfigError(
                f"this run was prepared by a newer botarmy-nb (request version {version!r}, "
                f"this one understands {REQUEST_VERSION}); upgrade the worker to run it"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"the stored run request is not valid: {exc}") from None
