"""Safe file names: nothing from a YAML file or a model writes outside its folder."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from botarmy_nb.errors import ConfigError
from botarmy_nb.paths import MAX_NAME_CHARS, numbered_name, safe_join, safe_relative


@pytest.mark.parametrize(
    "name",
    ["prd.md", "docs/prd.md", "./docs//prd.md", "épopée 1.md", "a" * MAX_NAME_CHARS],
)
def test_relative_names_inside_the_folder_pass(name: str) -> None:
    assert safe_relative(name, what="artifact name") == PurePosixPath(name)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("../x.md", "'..' component"),
        ("docs/../../x.md", "'..' component"),
        ("..", "'..' component"),
        ("/etc/passwd", "absolute path"),
        ("C:/Users/x.md", "absolute path"),
        ("c:x.md", "absolute path"),
        ("..\\x.md", "backslash"),
        ("docs\\prd.md", "backslash"),
        ("x\x00.md", "control character"),
        ("x\n.md", "control character"),
        ("\x1b]0;title\x07.md", "control character"),
        ("x\x9b.md", "control character"),
        ("", "is empty"),
        ("   ", "is empty"),
        (".", "names no file"),
        ("a" * 300 + ".md", "303 characters long (at most 200)"),
        ("é" * 130, "longer than 255 bytes"),
    ],
)
def test_names_that_could_leave_the_folder_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ConfigError, match="^artifact name of step 3 .*" + re.escape(reason)):
        safe_relative(name, what="artifact name of step 3")


def test_a_long_name_is_shortened_in_the_message() -> None:
    with pytest.raises(ConfigError) as info:
        safe_relative("b" * 5000, what="artifact name")
    assert len(str(info.value)) < 200 and "5000 characters" in str(info.value)


def test_safe_join_stays_under_the_root(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "docs/prd.md", what="x") == tmp_path / "docs" / "prd.md"
    with pytest.raises(ConfigError, match=re.escape("'..' component")):
        safe_join(tmp_path, "../x.md", what="x")
    with pytest.raises(ConfigError, match="absolute path"):
        safe_join(tmp_path, str(tmp_path / "x.md"), what="x")


def test_safe_join_refuses_symlinks_out_of_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "docs").symlink_to(outside, target_is_directory=True)
    (root / "prd.md").symlink_to(outside / "prd.md")
    (root / "self").symlink_to(root, target_is_directory=True)
    for name in ("docs/prd.md", "prd.md"):
        with pytest.raises(ConfigError, match=re.escape(f"'{name}' leads outside {root}")):
            safe_join(root, name, what="artifact name")
    with pytest.raises(ConfigError, match="names the folder"):
        safe_join(root, "self", what="artifact name")
    # a symlink that stays inside is fine, and so is a root reached through a symlink
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner", target_is_directory=True)
    assert safe_join(root, "alias/x.md", what="x") == root / "alias" / "x.md"
    link_to_root = tmp_path / "link"
    link_to_root.symlink_to(root, target_is_directory=True)
    assert safe_join(link_to_root, "x.md", what="x") == link_to_root / "x.md"
    assert list(outside.iterdir()) == []


def test_numbered_names_keep_the_suffix() -> None:
    assert numbered_name("story.md", 2) == "story-2.md"
    assert numbered_name("docs/story.md", 1) == "story-1.md"  # repeats live at the top
    assert numbered_name("notes", 3) == "notes-3"
