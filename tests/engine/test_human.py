"""Human in the loop: questions wait for an answer from any process, expire with a
recorded outcome, and without a human the default is recorded at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import botarmy_nb as ba
from botarmy_nb.errors import ConfigError
from botarmy_nb.events import HitlRequestEvent, HitlResponseEvent

CORE = {
    "workflows/one-doc.yaml": """
workflow:
  id: one-doc
  name: One document
  type: greenfield
  sequence:
    - agent: pm
      creates: note.md
      uses: note-tmpl
""",
    "templates/note-tmpl.yaml": """
template:
  id: note-tmpl
  name: Note
  version: 1.0
  output:
    format: markdown
    filename: docs/note.md
sections:
  - id: goal
    title: Goal
    instruction: State the goal.
    owner: pm
    elicit: true
""",
}


@pytest.fixture
def core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from botarmy_nb import settings as settings_module

    root = tmp_path / "core"
    (root / "agents").mkdir(parents=True)  # the bundled core's agents serve
    for name, text in CORE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setenv("BOTARMY_BMAD_PATH", str(root))
    settings_module.reset_settings()
    return root


def _question(run: ba.Run, timeout: float = 30) -> HitlRequestEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asked = [e for e in run.events if isinstance(e, HitlRequestEvent)]
        if asked:
            return asked[0]
        time.sleep(0.05)
    raise AssertionError("the run asked nothing")


def test_an_answer_from_another_handle_resumes_the_run(core: Path) -> None:
    run = ba.run("A wiki", workflow="one-doc", hitl_timeout_s=60)
    question = _question(run)
    assert question.expires_at is not None and "Goal" in question.prompt
    assert run.status == "running"  # waiting for the human
    ba.get_run(run.id).answer(question.request_id, "Mention offline mode")
    run.wait(60)
    assert run.status == "completed", run.record.error
    answer = next(e for e in run.events if isinstance(e, HitlResponseEvent))
    assert (answer.outcome, answer.response, answer.agent) == (
        "answered",
        "Mention offline mode",
        "human",
    )
    with pytest.raises(ConfigError, match="already answered"):
        run.answer(question.request_id, "again")
    asked = run.hitl  # the frame of questions and answers
    assert len(asked) == 1 and asked["response"].iloc[0] == "Mention offline mode"


def test_an_unanswered_question_expires_with_the_default(core: Path) -> None:
    run = ba.run("A wiki", workflow="one-doc", hitl_timeout_s=0.5).wait(60)
    assert run.status == "completed"
    answer = next(e for e in run.events if isinstance(e, HitlResponseEvent))
    assert answer.outcome == "expired" and "no human" in answer.response


def test_without_a_human_the_default_is_recorded_at_once(core: Path) -> None:
    run = ba.run("A wiki", workflow="one-doc").wait(60)
    answer = next(e for e in run.events if isinstance(e, HitlResponseEvent))
    assert run.status == "completed" and answer.outcome == "default"
