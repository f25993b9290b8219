"""A canary API key is provably absent from the database, logs, cassettes, notebook outputs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
import pytest
from fake_llm import FakeLLMServer
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from botarmy_nb import settings

CANARY = "sk-canary-do-not-leak-0123456789abcdef"

pytestmark = pytest.mark.kernel


def test_canary_key_never_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, botarmy_home: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("BOTARMY_LOG_JSON", "1")
    monkeypatch.setenv("BOTARMY_LOG_LEVEL", "DEBUG")
    settings.reset_settings()
    cassette = tmp_path / "calls.json"
    with FakeLLMServer() as fake:
        model = f"openai:gpt-4o-mini@{fake.url}"
        fake.fail("401")  # an auth error on the way, as with a wrong key
        nb = new_notebook(
            cells=[
                new_code_cell("%load_ext botarmy_nb"),
                new_code_cell(
                    f"%%botarmy --model {model}|scripted --record {cassette} --wait\nWrite a note"
                ),
                new_code_cell("_botarmy_run.model_calls[['agent', 'provider', 'status', 'error']]"),
                new_code_cell("%botarmy status"),
                new_code_cell(
                    "%%botarmy --model openai:gpt-4o-mini@http://127.0.0.1:1/v1 --wait\nFails"
                ),
                new_code_cell("import os; print(sorted(k for k in os.environ if 'KEY' in k))"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        )
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        assert all(r["has_auth"] for r in fake.requests)  # the key did reach the provider
    outputs = nbformat.writes(nb)
    assert "botarmy run writers-room · completed" in outputs
    assert "model call" in outputs and "level" in outputs  # the JSON logs landed there too
    assert "HTTP 401" in outputs and "OPENAI_API_KEY" in outputs
    assert CANARY not in outputs and CANARY[:12] not in outputs
    assert CANARY not in cassette.read_text()
    with sqlite3.connect(botarmy_home / "botarmy.db") as conn:
        dump = "\n".join(conn.iterdump())
    assert "gpt-4o-mini" in dump and CANARY not in dump
