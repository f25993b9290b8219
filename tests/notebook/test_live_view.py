"""The run view through a real IPython InteractiveShell, with every comm message recorded:
clicks arrive as the front-end sends them, and what the kernel sends is measured."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import comm
import pytest
from comm.base_comm import BaseComm
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

import botarmy_nb as ba
from botarmy_nb.notebook.cards import card_html
from botarmy_nb.notebook.live import LiveView


class RecordingComm(BaseComm):
    """A comm that keeps what the kernel would send to the front-end."""

    sent: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    kernel = object()  # ipywidgets only sends through comms that have a kernel

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                    buffers: Any = None, **keys: Any) -> None:  # fmt: skip
        RecordingComm.sent.append(
            (msg_type, {"comm_id": self.comm_id, "data": data or {}, "buffers": buffers or []})
        )


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    RecordingComm.sent = []
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    yield RecordingComm.sent


@pytest.fixture
def ip(botarmy_home: Any) -> InteractiveShell:
    start_ipython()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "botarmy_nb")
    return shell


def click(button: Any) -> float:
    """Click as the browser does (a custom comm message); returns how long it took."""
    started = time.perf_counter()
    button._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "click"}}}, "buffers": []}
    )
    return time.perf_counter() - started


def wait_for(condition: Any, timeout: float = 30) -> None:
    ended = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        ended.wait(0.02)


def feed_messages(sent: list[tuple[str, dict[str, Any]]], view: LiveView) -> list[dict[str, Any]]:
    """The feed's changes as the browser reads them (the cards from their binary frame)."""
    return [
        {
            **m["data"]["content"],
            **({"cards": json.loads(bytes(m["buffers"][0]))} if m["buffers"] else {}),
        }
        for kind, m in sent
        if kind == "comm_msg"
        and m["comm_id"] == view.feed.comm.comm_id
        and m["data"].get("method") == "custom"
    ]


def replay(messages: list[dict[str, Any]]) -> list[str]:
    """Apply the feed's messages as the browser does; returns the cards it would show."""
    cards: list[str] = []
    for message in messages:
        if "from" in message:
            assert message["from"] <= len(cards), "a gap: the browser would have to ask"
            del cards[message["from"] :]
            cards.extend(card_html(card) for card in message["cards"])
    return cards


def test_stop_button_stops_the_run_without_blocking_the_kernel(ip, comms, slow_model) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Write a long note", model=slow_model)
    view = LiveView(run).start()
    wait_for(lambda: view.transcript.head["messages"] >= 1)
    assert click(view.controls.stop) < 0.2  # the cancel waits on its own thread
    assert run.wait(30).status == "cancelled"
    assert view._ended.wait(10)
    assert view.controls.box.layout.display == "none"
    cards = replay(feed_messages(comms, view))
    assert cards == view.transcript.cards and any("cancelled" in c for c in cards)


def test_kill_button_stops_at_once(ip, comms, slow_model) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Write a long note", model=slow_model, team="review-graph")
    view = LiveView(run).start()
    wait_for(lambda: view.transcript.head["messages"] >= 1)
    click(view.controls.kill)
    assert run.wait(30).status == "cancelled"


def test_answering_a_question_lets_the_run_go_on(ip, comms) -> None:  # type: ignore[no-untyped-def]
    run = ba.run(
        "A wiki that works offline",
        template="project-brief-tmpl",
        variables={"project_name": "Wiki"},
        hitl_timeout_s=60,
    )
    view = LiveView(run).start()
    answers = ["Amend: mention the sync conflicts", "approve", "reject", "approve"]
    for answer in answers:
        wait_for(lambda: view.hitl._request_id is not None and not view.hitl.approve.disabled)
        asked = view.hitl._request_id
        assert "question from" in view.hitl.prompt.value
        if answer.startswith("Amend"):
            view.hitl.text.value = answer
            click(view.hitl.amend)
        else:
            click(view.hitl.approve if answer == "approve" else view.hitl.reject)
        wait_for(lambda asked=asked: view.hitl._request_id != asked)
    assert run.wait(60).status == "completed"
    responses = [e for e in run.events if e.type == "hitl_response"]
    assert [r.response for r in responses] == answers
    assert all(r.outcome == "answered" for r in responses)
    assert view._ended.wait(10)
    assert sum("✔ answered" in c for c in view.transcript.cards) == 4
    assert view.hitl.box.layout.display == "none"


def test_an_unanswered_question_shows_as_expired(ip, comms) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("x", template="project-brief-tmpl", variables={"project_name": "W"},
                 hitl_timeout_s=0.3)  # fmt: skip
    view = LiveView(run).start()
    assert run.wait(60).status == "completed"
    assert view._ended.wait(10)
    assert any("expired: nobody answered in time" in c for c in view.transcript.cards)


class Chatty:
    """A provider whose agents never approve: one Markdown reply every 30 ms."""

    def __call__(self, spec: Any, context: Any) -> Any:
        import asyncio

        from autogen_core.models import CreateResult, RequestUsage

        from botarmy_nb.models.scripted import ScriptedChatCompletionClient

        class Client(ScriptedChatCompletionClient):
            turn = 0

            async def create(self, messages: Any, **kwargs: Any) -> Any:
                await asyncio.sleep(0.03)
                Client.turn += 1
                text = (  # the size of a real agent's reply: a paragraph and a list
                    f"## Point {Client.turn}\n\nThe offline cache must stay consistent with "
                    "the server after a reconnect, so every edit carries the version it was "
                    "made against and the sync step compares versions before it applies a "
                    "change; a conflict is kept as a second revision for a person to merge, "
                    "never silently dropped. That costs one extra field per page.\n\n"
                    + "\n".join(
                        f"- step {i}: check the *offline* queue against the `sync` log"
                        for i in range(1 + Client.turn % 4)
                    )
                )
                usage = RequestUsage(prompt_tokens=20, completion_tokens=len(text.split()))
                return CreateResult(finish_reason="stop", content=text, usage=usage, cached=False)

        return Client(context)


@pytest.fixture
def chatty_team(tmp_path: Any) -> Iterator[str]:
    from botarmy_nb.models import registry

    registry.register_provider(registry.Provider("chatty", Chatty(), default_model="x"))
    team = tmp_path / "long-room.yaml"
    team.write_text(
        "name: long-room\ntype: round_robin\nagents: [writer, critic]\n"
        "termination:\n  text: APPROVE\n  max_messages: 61\n"
    )
    yield str(team)
    registry._REGISTRY.pop("chatty", None)


def test_live_updates_stay_within_twice_the_message_bytes(ip, comms, chatty_team) -> None:  # type: ignore[no-untyped-def]
    """A long run, a message at a time: only the changes travel (before: 15–26×)."""
    run = ba.run("Plan the sync engine", model="chatty", team=chatty_team)
    view = LiveView(run).start()
    assert run.wait(60).status == "completed"
    assert view._ended.wait(10)
    message_bytes = sum(len(e.content.encode()) for e in run.events if e.type == "message")
    updates = [m for kind, m in comms if kind == "comm_msg"]
    update_bytes = sum(
        len(json.dumps(m["data"], ensure_ascii=False).encode()) + sum(len(b) for b in m["buffers"])
        for m in updates
    )
    pushes = len(feed_messages(comms, view))
    assert len([e for e in run.events if e.type == "message"]) == 61
    assert pushes >= 10  # it was live (≈ 1.8 s at ≤ 10 a second), not one final dump
    assert update_bytes <= 2 * message_bytes, (update_bytes, message_bytes, pushes)
    assert replay(feed_messages(comms, view)) == view.transcript.cards


def test_a_finished_run_shows_its_whole_conversation(ip, comms) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Quick").wait(30)  # ended before anyone watched
    view = LiveView(run).start()
    assert view._ended.wait(10)
    said = [e for e in run.events if e.type == "message"]
    shown = [c for c in view.transcript.cards if "ba-card" in c]
    assert len([c for c in shown if "document " not in c]) == len(said)
    assert view.transcript.head["status"] == "completed"
    assert "botarmy run" in (view.final_text or "") and "completed" in view.final_text


def test_a_view_that_missed_changes_gets_them_all(ip, comms) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Quick").wait(30)
    view = LiveView(run).start()
    assert view._ended.wait(10)
    before = len(feed_messages(comms, view))
    view.feed._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"want": 0}}}, "buffers": []}
    )  # a reloaded page asks for everything
    resent = feed_messages(comms, view)[before:]
    assert len(resent) == 1 and resent[0]["from"] == 0
    assert [card_html(c) for c in resent[0]["cards"]] == view.transcript.cards
    assert resent[0]["h"]["status"] == "completed"


def test_a_workflow_is_not_an_agent_and_prompts_are_collapsed(ip, comms) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("x", workflow="greenfield-service", variables={"project_name": "W"}).wait(120)
    view = LiveView(run).start()
    assert view._ended.wait(30)
    head = view.transcript.head
    assert head["done"] == head["total"] == 9 and head["unit"] == "steps"
    prompts = [c for c in view.transcript.cards if "ba-prompt" in c]
    assert prompts and all(c.startswith("<details") for c in prompts)
    assert not any("<b style='color:" in c and ">workflow<" in c for c in view.transcript.cards)
    assert "  workflow " not in (view.final_text or "")  # not among the agents
    # no card carries a whole document: prompts show their start, the rest is in run.messages
    assert max(len(c) for c in prompts) < 4_000
