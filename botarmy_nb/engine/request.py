"""RunRequest: everything a worker needs to execute a run, stored with the run as JSON."""

from __future__ import annotations

from pydantic import BaseModel, Field

from botarmy_nb.specs.team import TeamSpec

__all__ = ["RunRequest"]


class RunRequest(BaseModel):
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

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
