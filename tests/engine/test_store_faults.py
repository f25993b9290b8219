"""Store faults during runs: text no database accepts, connections killed in bursts —
every run ends in a terminal state with gap-free events (issue #7, items 2 and 7)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fake_llm import FakeLLMServer

import botarmy_nb as ba


class _Hostile:
    """A provider whose replies hold a lone surrogate and a NUL byte."""

    def __call__(self, spec, context):  # type: ignore[no-untyped-def]
        from autogen_core.models import CreateResult, RequestUsage

        from botarmy_nb.models.scripted import ScriptedChatCompletionClient

        class Hostile(ScriptedChatCompletionClient):
            async def create(self, messages, **kwargs):  # type: ignore[no-untyped-def]
                result = await super().create(messages, **kwargs)
                text = f"{result.content}\n\ud800 and \x00 APPROVED"
                usage = RequestUsage(prompt_tokens=3, completion_tokens=4)
                return CreateResult(finish_reason="stop", content=text, usage=usage, cached=False)

        return Hostile(context)


@pytest.fixture
def hostile_model() -> Iterator[str]:
    from botarmy_nb.models import registry

    registry.register_provider(registry.Provider("hostile", _Hostile(), default_model="x"))
    yield "hostile:x"
    registry._REGISTRY.pop("hostile", None)


def test_replies_with_a_lone_surrogate_or_nul_are_stored(use_database: str, hostile_model) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Write a note", team="writers-room", model=hostile_model).wait(60)
    assert run.status == "completed", run.record.error
    replies = run.messages.query("agent != 'user'")["content"]
    assert all("\ufffd and \ufffd APPROVED" in text for text in replies)
    assert "\ufffd" in run.artifacts["content"].iloc[0]
    seqs = [e.seq for e in run.events]
    assert seqs == list(range(1, len(seqs) + 1))


def _kill_connections(url: str, stop: threading.Event, kills: list[int]) -> None:
    """Terminate every other connection to the test database, in bursts."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (parsed.database,),
            ).fetchall()
            kills.append(len(rows))
            stop.wait(0.4)


def test_postgres_connections_killed_in_bursts_lose_nothing(pg_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb import settings as settings_module

    monkeypatch.setenv("BOTARMY_DATABASE_URL", pg_url)
    settings_module.reset_settings()
    ba.runs()  # schema
    stop, kills = threading.Event(), []
    killer = threading.Thread(target=_kill_connections, args=(pg_url, stop, kills))
    with FakeLLMServer(latency_s=0.05) as fake:
        model = f"openai-compatible:m@{fake.url}"
        killer.start()
        try:
            runs = [ba.run(f"Note {i}", team="review-graph", model=model) for i in range(8)]
            for run in runs:
                run.wait(timeout=120)
        finally:
            stop.set()
            killer.join()
    assert sum(kills) > 0  # connections really were killed while the runs went on
    time.sleep(0.1)
    for run in runs:
        record = run.record
        assert record.status == "completed", (record.status, record.error)
        seqs = [e.seq for e in run.events]
        assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] == record.last_seq
