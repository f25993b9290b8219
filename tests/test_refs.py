"""Run refs: an id, an id prefix or a unique name; shared names are refused with a list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from botarmy_nb.errors import ConfigError, NotFoundError
from botarmy_nb.refs import AmbiguousRunError, parse_when, resolve_run


@pytest.fixture
def two_demos(botarmy_home):  # type: ignore[no-untyped-def]
    import botarmy_nb as ba

    return ba.run("one", name="demo").wait(60), ba.run("two", name="demo").wait(60)


def test_a_shared_name_is_refused_with_the_runs_listed(two_demos) -> None:  # type: ignore[no-untyped-def]
    first, second = two_demos
    with pytest.raises(AmbiguousRunError) as info:
        resolve_run("demo")
    message = str(info.value)
    assert message.startswith("2 runs are named 'demo':")
    assert first.id[:8] in message and second.id[:8] in message
    assert message.index(second.id[:8]) < message.index(first.id[:8])  # newest first
    assert f"{first.record.created_at:%Y-%m-%d %H:%M}" in message
    assert "give the id" in message
    assert [r.id for r in info.value.candidates] == [second.id, first.id]


def test_ids_and_prefixes(two_demos) -> None:  # type: ignore[no-untyped-def]
    first, second = two_demos
    assert resolve_run(first.id).id == first.id
    assert resolve_run(second.id[:8]).id == second.id
    assert resolve_run(f"  {first.id[:12]} ").id == first.id
    with pytest.raises(NotFoundError, match="no run 'nothing'"):
        resolve_run("nothing")
    with pytest.raises(ConfigError, match="give a run"):
        resolve_run(" ")


def test_an_ambiguous_prefix_lists_the_runs(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.store.base import open_store
    from botarmy_nb.store.records import NewRun

    store = open_store()
    for suffix in ("a", "b"):
        store.create_run(NewRun(id="abc" + suffix * 29, name=suffix, task="t", model="scripted"))
    with pytest.raises(AmbiguousRunError, match="id prefix 'abc' matches 2 runs"):
        resolve_run("abc")
    assert resolve_run("abca").name == "a"


def test_parse_when() -> None:
    assert parse_when("2026-11-27T09:30") == datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    assert parse_when(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    assert abs((now - parse_when("2h")).total_seconds() - 7200) < 5
    assert parse_when("today") <= now
    assert parse_when(None) is None
    with pytest.raises(ConfigError, match="not a date"):
        parse_when("soon")
