"""RunTermination: one pass over stop word, message cap, timeout and graceful stop."""

from __future__ import annotations

import asyncio

import pytest
from autogen_agentchat.base import TerminatedException
from autogen_agentchat.messages import TextMessage

from botarmy_nb.engine.termination import RunTermination


def _say(source: str, text: str) -> TextMessage:
    return TextMessage(source=source, content=text)


def test_stop_word_only_from_team_agents() -> None:
    cond = RunTermination(text="DONE", sources=["a"], max_messages=None, timeout_s=None)
    assert asyncio.run(cond([_say("user", "say DONE when DONE")])) is None
    stop = asyncio.run(cond([_say("a", "all DONE")]))
    assert stop is not None and stop.content == "Text 'DONE' mentioned" and cond.terminated
    with pytest.raises(TerminatedException):
        asyncio.run(cond([_say("a", "again")]))


def test_message_cap_counts_every_chat_message() -> None:
    cond = RunTermination(text=None, sources=["a"], max_messages=3, timeout_s=None)
    assert asyncio.run(cond([_say("user", "t"), _say("a", "1")])) is None
    stop = asyncio.run(cond([_say("a", "2")]))
    assert stop is not None and "Maximum number of messages 3 reached" in stop.content


def test_graceful_stop_and_reset() -> None:
    cond = RunTermination(text=None, sources=["a"], max_messages=None, timeout_s=None)
    cond.set()
    stop = asyncio.run(cond([_say("a", "x")]))
    assert stop is not None and stop.content == "External termination requested"
    asyncio.run(cond.reset())
    assert not cond.terminated and asyncio.run(cond([_say("a", "x")])) is None


def test_timeout_is_checked_when_a_message_arrives() -> None:
    cond = RunTermination(text=None, sources=["a"], max_messages=None, timeout_s=0.01)
    asyncio.run(asyncio.sleep(0.02))
    stop = asyncio.run(cond([_say("a", "late")]))
    assert stop is not None and stop.content == "Timeout of 0.01 seconds reached"
