"""Conditions compare variable text as numbers; upstream-style owners resolve to agents."""

from __future__ import annotations

import botarmy_nb as ba


def test_conditions_compare_var_text_as_numbers() -> None:
    from botarmy_nb.bmad.conditions import parse_condition

    assert parse_condition("epic_count >= 3").evaluate({"epic_count": "5"}) is True
    assert parse_condition("epic_count == 5").evaluate({"epic_count": "5"}) is True
    assert parse_condition("unknown in project_type").evaluate({"project_type": "web"}) is False


def test_upstream_style_owners_resolve_to_agents(tmp_path) -> None:  # type: ignore[no-untyped-def]
    core = ba.load_bmad()
    assert core.agent_for_owner("scrum-master") == "sm"
    assert core.agent_for_owner("dev-agent") == "dev"
    assert core.agent_for_owner("nobody") is None
