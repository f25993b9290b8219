"""The safe condition language: expressions evaluate, prose is left to agents."""

from __future__ import annotations

import pytest

from botarmy_nb.bmad.conditions import ConditionSyntaxError, parse_condition

VARS = {
    "has_ui": True,
    "legacy": False,
    "project_type": "web",
    "epic_count": 3,
    "stack": ["python", "postgres"],
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("has_ui", True),
        ("legacy", False),
        ("unknown_flag", False),
        ("not legacy and has_ui", True),
        ('project_type == "web"', True),
        ("project_type != 'web'", False),
        ('project_type in ["web", "fullstack"]', True),
        ('project_type not in ["cli"]', True),
        ('"postgres" in stack', True),
        ("epic_count >= 3 and epic_count < 10", True),
        ("epic_count > 3 or (has_ui and not legacy)", True),
        ("epic_count == 3.0", True),
        ("prd.md", True),
        ("architecture.md", False),
        ("missing > 2", False),
    ],
)
def test_expressions(text: str, expected: bool) -> None:
    condition = parse_condition(text)
    assert not condition.is_prose
    assert condition.evaluate(VARS, artifacts={"prd.md"}) is expected


@pytest.mark.parametrize(
    "text",
    [
        "PRD has UX/UI requirements",
        "user wants AI frontend generation",
        "the enhancement is in scope and ready",
    ],
)
def test_prose_is_left_for_the_owning_agent(text: str) -> None:
    condition = parse_condition(text)
    assert condition.is_prose and condition.evaluate(VARS) is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("(has_ui and legacy", r"expected '\)'"),
        ("has_ui and or legacy", "unexpected 'or'"),
        ('project_type == "web', "unexpected"),
        ("epic_count >= ", "expected more"),
        ("", "empty condition"),
        ("__import__('os').system('x')", "unexpected"),
    ],
)
def test_bad_expressions_are_errors(text: str, message: str) -> None:
    with pytest.raises(ConditionSyntaxError, match=message):
        parse_condition(text)


@pytest.mark.parametrize(
    "text",
    [
        "(" * 1_000 + "a" + ")" * 1_000,
        "[" * 1_000 + "]" * 1_000,
        "not " * 1_000 + "(a)",
        "a == " + "(" * 40 + "b" + ")" * 40,
    ],
)
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(ConditionSyntaxError, match="nested more than 32 levels deep"):
        parse_condition(text)


def test_long_chains_parse_and_evaluate_flat() -> None:
    # left-nested trees once made evaluation recurse once per term
    many = parse_condition(" and ".join(["has_ui"] * 5_000))
    assert many.evaluate(VARS) is True
    assert parse_condition(" or ".join(["legacy"] * 5_000) + " or has_ui").evaluate(VARS) is True
    assert parse_condition("not not has_ui").evaluate(VARS) is True


def test_a_number_too_long_to_convert() -> None:
    with pytest.raises(ConditionSyntaxError, match="too long"):
        parse_condition("epic_count > " + "9" * 5_000)
