"""Team artifact names are plain file names."""

from __future__ import annotations

import pytest

from botarmy_nb.errors import SpecError


@pytest.mark.parametrize("name", ["../evil.md", "/etc/passwd", "sub/dir.md", ".."])
def test_artifact_names_are_plain_file_names(tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.specs.team import load_team

    path = tmp_path / "t.yaml"
    path.write_text(f"name: t\nagents: [writer]\nartifacts:\n  - name: '{name}'\n")
    with pytest.raises(SpecError, match="plain file name") as info:
        load_team(path)
    assert info.value.line == 4
