"""Sweeps: validated before any run starts, bounded concurrency, results one row per run,
found again from the store after a kernel restart, and resumed."""

from __future__ import annotations

import pandas as pd
import pytest

import botarmy_nb as ba
from botarmy_nb.analysis.sweep import _prepare, get_sweep
from botarmy_nb.errors import ConfigError, ModelSpecError, NotFoundError


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"grid": {"topc": ["a"]}}, ConfigError, "grid variable 'topc' is not an option"),
        ({"grid": {"topic": []}}, ConfigError, r"grid\['topic'\] must be a non-empty list"),
        ({"grid": {"topic": ["a"]}, "repeats": 0}, ConfigError, "repeats must be"),
        (
            {"grid": {"topic": ["a"], "model": ["scripted", "what:ever"]}},
            ModelSpecError,
            "unknown provider",
        ),
        (
            {"grid": {"topic": ["a"], "team": ["writers-room", "nope"]}},
            ConfigError,
            "unknown team 'nope'",
        ),
        ({"grid": {"topic": ["a"]}, "colour": "x"}, ConfigError, "unknown option 'colour'"),
    ],
)
def test_nothing_starts_when_any_point_is_wrong(use_database, kwargs, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        ba.sweep("Write about {{topic}}", **kwargs)
    assert ba.runs().empty


def test_results_have_one_row_per_run_with_values_and_totals(use_database, slow_model) -> None:  # type: ignore[no-untyped-def]
    s = ba.sweep(
        "Write about {{topic}}",
        grid={"topic": ["tea", "coffee"], "model": [slow_model]},
        repeats=2,
        max_concurrency=2,
        name="drinks",
    ).wait(60)
    results = s.results
    assert len(results) == 4 and list(results.columns[:6]) == [
        "run_id",
        "run_name",
        "point",
        "repeat",
        "topic",
        "model",
    ]
    assert results["topic"].tolist() == ["tea", "tea", "coffee", "coffee"]
    assert results["repeat"].tolist() == [1, 2, 1, 2]
    assert (results["status"] == "completed").all() and (results["requests"] == 4).all()
    assert results["total_tokens"].dtype == "Int64" and results["total_tokens"].gt(0).all()
    assert results["artifacts"].map(set).eq({"draft.md", "review.md"}).all()
    assert results.groupby("topic", observed=True)["total_tokens"].mean().notna().all()
    # never more than max_concurrency runs at the same time
    runs = ba.runs(tags={"sweep": s.id})
    edges = sorted(
        [(t, 1) for t in runs["started_at"]] + [(t, -1) for t in runs["finished_at"]],
        key=lambda e: (e[0], e[1]),
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak <= 2
    assert "4 completed" in s.summary_text()


def test_a_new_kernel_finds_the_sweep_and_resumes_what_never_started(use_database) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb import api

    spec = {
        "task": "Write about {{topic}}",
        "grid": [["topic", ["a", "b", "c"]]],
        "repeats": 1,
        "name": "cut",
        "options": {},
    }
    from botarmy_nb.analysis.sweep import Sweep

    first = Sweep("0123456789ab", spec)
    # the kernel died after submitting the first point only
    api.submit(_prepare(first.id, spec, first.points[0], first=True)).wait(30)
    found = get_sweep("0123456789ab")
    assert found.name == "cut" and found.counts == {"completed": 1, "not started": 2}
    assert found.missing() == [{"topic": "b", "repeat": 1}, {"topic": "c", "repeat": 1}]
    found.resume().wait(60)
    assert get_sweep("0123456789ab").results["topic"].tolist() == ["a", "b", "c"]
    assert found.done
    with pytest.raises(NotFoundError, match="no sweep 'ffffffffffff'"):
        get_sweep("ffffffffffff")


def test_a_workflow_name_is_the_target_and_its_variables_are_known(use_database) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="grid variable 'project' is not an option"):
        ba.sweep("greenfield-service", grid={"project": ["W"]})
    s = ba.sweep("greenfield-service", grid={"project_name": ["Wiki"]}).wait(120)
    row = s.results.iloc[0]
    assert row["status"] == "completed" and row["project_name"] == "Wiki"
    assert "prd.md" in row["artifacts"]
    assert isinstance(s.results, pd.DataFrame)
