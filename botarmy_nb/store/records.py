"""Pydantic records the store hands out (never ORM rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ArtifactRecord", "CheckpointRecord", "NewRun", "RunRecord"]


class NewRun(BaseModel):
    """What it takes to register a run before it starts."""

    id: str
    name: str
    task: str
    model: str
    executor: str = "local"
    team: str | None = None
    workflow: str | None = None
    template: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    status: str = "queued"
    started_at: datetime | None = None  # set when an executor starts the run on submission
    worker: str | None = None  # the owner: "host:pid:token" of the process executing it
    heartbeat_at: datetime | None = None
    lease_expires_at: datetime | None = None
    attempts: int = 0
    queue: str | None = None
    priority: int | None = None
    timeout_s: float | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class RunRecord(NewRun):
    model_config = ConfigDict(from_attributes=True)

    created_at: datetime
    finished_at: datetime | None = None
    cancel_requested: str | None = None
    stop_reason: str | None = None
    error: str | None = None
    last_seq: int = 0

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or self.heartbeat_at
        return None if end is None else (end - self.started_at).total_seconds()


class ArtifactRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: str
    seq: int
    name: str
    agent: str | None
    template: str | None
    content: str
    format: str
    path: str | None
    created_at: datetime


class CheckpointRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: str
    seq: int
    state: dict[str, Any]
    created_at: datetime
