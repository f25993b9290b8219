"""Charts: valid Vega-Lite for every plot, a PNG saved without a browser, unknown cost
marked unknown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import botarmy_nb as ba


def _marks(spec: dict) -> list[str]:  # type: ignore[type-arg]
    found = []
    for layer in spec.get("layer", [spec]):
        mark = layer.get("mark")
        found.append(mark["type"] if isinstance(mark, dict) else mark)
    return found


def test_every_chart_builds_and_one_saves_as_png(botarmy_home: Path, tmp_path: Path) -> None:
    run = ba.run("Plan it", workflow="greenfield-service", variables={"project_name": "W"}).wait(
        120
    )
    other = ba.run("Write", name="team").wait(30)
    timeline = run.plot.timeline().to_dict()
    assert _marks(timeline) == ["rect", "bar", "text"]  # step bands, calls, step numbers
    assert _marks(ba.plot.timeline(other.model_calls).to_dict()) == ["bar"]
    calls = ba.model_calls()
    for chart in (
        ba.plot.tokens(calls, by=["run_name", "agent"]),
        ba.plot.cost(calls),
        ba.plot.latency(calls, by="model"),
        run.plot.tokens(),
        run.plot.cost("step"),
        run.plot.latency(),
    ):
        assert chart.to_dict()["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    target = tmp_path / "timeline.png"
    run.plot.timeline().save(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_cost_is_labelled_not_drawn_short() -> None:
    calls = pd.DataFrame(
        {
            "agent": pd.Categorical(["a", "b"]),
            "status": pd.Categorical(["ok", "ok"]),
            "prompt_tokens": pd.array([1, 1], dtype="Int64"),
            "completion_tokens": pd.array([1, 1], dtype="Int64"),
            "total_tokens": pd.array([2, 2], dtype="Int64"),
            "latency_s": [0.1, 0.2],
            "cost_usd": [0.5, None],
            "cached": [False, False],
        }
    )
    spec = ba.plot.cost(calls).to_dict()
    datasets = list(spec["datasets"].values())
    assert {"group": "b", "cost_usd": 0.0, "label": "unknown"} in datasets[1]
    assert [r["group"] for r in datasets[0]] == ["a"]


def test_sweep_chart_compares_values(botarmy_home: Path) -> None:
    results = pd.DataFrame(
        {"model": ["x", "x", "y"], "topic": ["a", "b", "a"], "total_tokens": [1, 2, 3]}
    )
    spec = ba.plot.sweep(results, x="model", color="topic").to_dict()
    assert _marks(spec) == ["bar", "circle"]
