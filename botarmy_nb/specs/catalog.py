"""Finding teams by name or path: the user's folder first, then the bundled ones."""

from __future__ import annotations

from pathlib import Path

from botarmy_nb.errors import NotFoundError, did_you_mean
from botarmy_nb.specs import DEFAULT_TEAM
from botarmy_nb.specs.team import TeamSpec, load_team

__all__ = ["DEFAULT_TEAM", "bundled_teams_dir", "find_team", "list_teams"]


def bundled_teams_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "teams"


def team_dirs() -> list[Path]:
    from botarmy_nb.settings import get_settings

    return [get_settings().home / "teams", bundled_teams_dir()]


def _team_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in team_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.y*ml")):
            if path.stem != "agents" and path.suffix in (".yaml", ".yml"):
                found.setdefault(path.stem, path)
    return found


def _is_file(path: Path) -> bool:
    """False, not an exception, for names no file can have (NUL, too long, ~nobody)."""
    try:
        return path.expanduser().is_file()
    except (OSError, ValueError, RuntimeError):
        return False


def list_teams() -> list[TeamSpec]:
    """Every team that `--team NAME` can find, validated."""
    return [load_team(path) for path in _team_files().values()]


def find_team(ref: str | None, *, trust_code: bool = False, model: str | None = None) -> TeamSpec:
    """A team by name (``writers-room``), YAML path or AutoGen component JSON path; None
    gives the default team.

    ``trust_code``: accept a component file whose FunctionTools carry Python source.
    ``model``: for a component file, serve every agent with this model instead of the
    file's clients (``--model`` overrides them); YAML teams keep their precedence.
    """
    ref = ref or DEFAULT_TEAM
    candidate = Path(ref)
    if candidate.suffix == ".json":
        if not _is_file(candidate):
            raise NotFoundError(f"team file {ref} does not exist")
        from botarmy_nb.specs.component import load_component_team

        spec = load_component_team(candidate.expanduser(), trust_code=trust_code)
        if model is not None:
            spec.model = None
            for agent in spec.agents:
                agent.model = None
        return spec
    if candidate.suffix in (".yaml", ".yml") or "/" in ref:
        if not _is_file(candidate):
            raise NotFoundError(f"team file {ref} does not exist")
        return load_team(candidate.expanduser())
    files = _team_files()
    if ref not in files:
        raise NotFoundError(f"unknown team '{ref}'" + did_you_mean(ref, files))
    return load_team(files[ref])
