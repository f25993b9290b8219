"""Summaries: per agent, model and step; latency percentiles; errors, retries, fallbacks;
a total with any unknown part is unknown, never a partial sum."""

from __future__ import annotations

import pandas as pd
import pytest

import botarmy_nb as ba
from botarmy_nb.analysis.summary import summarize, totals
from botarmy_nb.errors import ConfigError


def _calls(**columns) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    n = len(next(iter(columns.values())))
    base = {
        "run_id": ["r"] * n,
        "agent": ["a"] * n,
        "model": ["m"] * n,
        "status": ["ok"] * n,
        "prompt_tokens": [10] * n,
        "completion_tokens": [5] * n,
        "latency_s": [1.0] * n,
        "cost_usd": [0.01] * n,
        "cached": [False] * n,
    }
    base.update(columns)
    frame = pd.DataFrame(base)
    for column in ("prompt_tokens", "completion_tokens"):
        frame[column] = frame[column].astype("Int64")
    frame["total_tokens"] = frame["prompt_tokens"] + frame["completion_tokens"]
    for column in ("agent", "model", "status"):
        frame[column] = frame[column].astype("category")
    return frame


def test_unknown_parts_make_the_total_unknown() -> None:
    calls = _calls(
        agent=["a", "a", "b", "b"],
        prompt_tokens=[10, None, 10, 10],
        cost_usd=[0.01, 0.01, None, 0.02],
    )
    out = summarize(calls, by="agent", total=True).set_index("agent")
    assert out.loc["a", "prompt_tokens"] is pd.NA and out.loc["b", "prompt_tokens"] == 20
    assert out.loc["a", "completion_tokens"] == 10
    assert out.loc["a", "cost_usd"] == pytest.approx(0.02) and pd.isna(out.loc["b", "cost_usd"])
    assert out.loc["(all)", "prompt_tokens"] is pd.NA and pd.isna(out.loc["(all)", "cost_usd"])
    assert out.loc["(all)", "requests"] == 4
    assert totals(calls)["cost_usd"] is None and totals(calls.iloc[:2])["cost_usd"] == 0.02


def test_requests_retries_fallbacks_errors_and_percentiles() -> None:
    calls = _calls(
        status=["retry", "fallback", "ok", "ok", "error"],
        latency_s=[1.0, 2.0, 3.0, 4.0, 100.0],
    )
    row = summarize(calls, by=None).iloc[0]
    assert (row["requests"], row["attempts"], row["ok"]) == (3, 5, 2)
    assert (row["retries"], row["fallbacks"], row["errors"]) == (1, 1, 1)
    assert row["latency_p50_s"] == 3.0 and row["latency_p99_s"] == pytest.approx(96.16)
    assert row["latency_total_s"] == 110.0


def test_bad_input_is_explained() -> None:
    with pytest.raises(ConfigError, match="cannot summarize by step"):
        summarize(_calls(agent=["a"]), by="step")
    with pytest.raises(ConfigError, match="model_calls or messages frame"):
        summarize(pd.DataFrame({"agent": ["a"]}), by="agent")


def test_run_summary_has_turns_per_agent(use_database) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Write a note", name="s").wait(30)
    out = run.summary().set_index("agent")
    assert out.loc["writer", "turns"] == 2 and out.loc["critic", "turns"] == 2
    assert out.loc["(all)", "total_tokens"] == run.usage["total_tokens"]
    assert out["cost_usd"].notna().all()  # the scripted model is free, and says so
    by_run = ba.summarize(ba.model_calls(), by=["run_name", "model"])
    assert list(by_run.columns[:2]) == ["run_name", "model"] and len(by_run) == 1
    turns = ba.summarize(ba.messages(), by="agent")
    assert dict(zip(turns["agent"], turns["turns"], strict=True)) == {"critic": 2, "writer": 2}
