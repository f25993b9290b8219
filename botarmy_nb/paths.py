"""Safe file names from untrusted text: YAML files and model output never write outside a folder.

Artifact names, a workflow step's ``creates`` and a template's ``output.filename`` come
from BMAD cores a user downloaded and from stored runs. Every file written from such a
name goes through :func:`safe_join`; :func:`validate_bmad_paths` checks the names a run
would use before it starts, so a bad name fails at once with its file and line instead
of at the end of a long run.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from botarmy_nb.errors import ConfigError, NotFoundError, SpecError, did_you_mean

if TYPE_CHECKING:
    from botarmy_nb.bmad.models import BmadCore, BmadTemplate, BmadWorkflow

__all__ = [
    "MAX_NAME_CHARS",
    "file_name_problem",
    "numbered_name",
    "safe_join",
    "safe_relative",
    "validate_bmad_paths",
]

MAX_NAME_CHARS = 200  # the store keeps 300; the margin covers "-5" repeats and prefixes
MAX_PART_BYTES = 255  # what common file systems allow for one path component
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def file_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a relative file name under a folder (None if it can).

    The one rule for names from YAML files and models; loaders can call it to report
    a bad name with its line before anything runs.
    """
    if not isinstance(name, str) or not name.strip():
        return "is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"is {len(name)} characters long (at most {MAX_NAME_CHARS})"
    if _CONTROL.search(name):
        return "contains a control character"
    if "\\" in name:
        return "contains a backslash (use '/' between folders)"
    if name.startswith("/") or _DRIVE.match(name):
        return "is an absolute path (it must be relative to the output folder)"
    parts = PurePosixPath(name).parts
    if ".." in parts:
        return "contains a '..' component (it must stay inside the output folder)"
    if not parts:
        return "names no file"
    if any(len(part.encode("utf-8")) > MAX_PART_BYTES for part in parts):
        return f"has a component longer than {MAX_PART_BYTES} bytes"
    return None


def safe_relative(name: str, *, what: str) -> PurePosixPath:
    """``name`` as a relative path that cannot leave its folder; ConfigError otherwise.

    ``what`` says where the name came from, for the message.

    >>> safe_relative("docs/prd.md", what="artifact name")
    PurePosixPath('docs/prd.md')
    >>> safe_relative("../x.md", what="artifact name")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    botarmy_nb.errors.ConfigError: artifact name '../x.md' contains a '..' component ...
    """
    problem = file_name_problem(name)
    if problem is not None:
        raise ConfigError(f"{what} {_shown(name)} {problem}")
    return PurePosixPath(name)


def safe_join(root: str | Path, name: str, *, what: str) -> Path:
    """``root / name``, refused (ConfigError) unless the resolved path stays under the
    resolved ``root`` — symlinks already on disk included.

    The path is returned as ``root`` spells it, ready to write.
    """
    relative = safe_relative(name, what=what)
    base = Path(root).expanduser()
    path = base.joinpath(*relative.parts)
    resolved_root = base.resolve()
    resolved = path.resolve()
    if resolved != resolved_root and not resolved.is_relative_to(resolved_root):
        raise ConfigError(
            f"{what} {_shown(name)} leads outside {base} (to {resolved}, through a symlink)"
        )
    if resolved == resolved_root:
        raise ConfigError(f"{what} {_shown(name)} names the folder {base} itself, not a file")
    return path


def numbered_name(name: str, number: int) -> str:
    """The name of one document of a repeated step: ``story.md`` → ``story-2.md``."""
    path = PurePosixPath(name)
    return f"{path.stem}-{number}{path.suffix}"


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 80 else f"{text[:60]}…' ({len(str(name))} characters)"


# -- BMAD cores: the names a run would write, checked before it starts -------------------


def validate_bmad_paths(
    core: BmadCore, *, workflow: str | None = None, template: str | None = None
) -> None:
    """Check every file name a BMAD run would write; SpecError with file, line and field.

    ``workflow`` is a workflow id or path (its stem is the id) and ``template`` a template
    reference as ``core.template()`` takes it; the names checked are each step's
    ``creates`` (and its numbered repeats), the artifact of every template a step or
    route uses, and each such template's ``output.filename`` (where
    ``Run.export_artifacts`` writes it). With neither, the whole core is checked.

    >>> validate_bmad_paths(load_bmad(), workflow="greenfield-service")  # doctest: +SKIP
    """
    if workflow is None and template is None:
        for flow in core.workflows.values():
            _check_workflow(core, flow)
        for tmpl in core.templates.values():
            _check_template(tmpl)
        return
    if workflow is not None:
        key = PurePosixPath(workflow).stem if workflow not in core.workflows else workflow
        if key not in core.workflows:
            raise NotFoundError(
                f"unknown workflow '{workflow}'" + did_you_mean(key, core.workflows)
            )
        _check_workflow(core, core.workflows[key])
    if template is not None:
        found = core.template(template)
        if found is None:
            raise NotFoundError(
                f"unknown template '{template}'" + did_you_mean(template, core.templates)
            )
        _check_template(found)
        _check_name(
            found.artifact or f"{found.file_stem}.md",
            file=found.source,
            line=_output_line(found),
            field="template.output.filename",
        )


def _check_name(name: object, *, file: str, line: int | None, field: str) -> None:
    problem = file_name_problem(name)
    if problem is not None:
        raise SpecError(f"file name {_shown(name)} {problem}", file=file, line=line, field=field)


def _output_line(template: BmadTemplate) -> int | None:
    lines = template.field_lines
    return lines.get("output.filename") or lines.get("output") or template.line


def _check_template(template: BmadTemplate) -> None:
    if template.output_filename is not None:
        _check_name(
            template.output_filename,
            file=template.source,
            line=_output_line(template),
            field="template.output.filename",
        )


def _check_workflow(core: BmadCore, workflow: BmadWorkflow) -> None:
    from botarmy_nb.engine.workflow import MAX_REPEATS

    for step in workflow.steps:
        where = f"sequence.{step.index}"
        line = step.field_lines.get("creates") or step.line
        used: list[BmadTemplate | None] = []
        if step.creates is not None:
            _check_name(step.creates, file=workflow.source, line=line, field=f"{where}.creates")
            if step.repeats:
                _check_name(
                    numbered_name(step.creates, MAX_REPEATS),
                    file=workflow.source,
                    line=line,
                    field=f"{where}.creates",
                )
            used.append(core.template_for(step.creates))
        if step.uses:
            used.append(core.template(step.uses))
        for target in (step.routes or {}).values():
            if isinstance(target, dict) and target.get("uses"):
                used.append(core.template(str(target["uses"])))
        for tmpl in used:  # a route writes its template's artifact, the base name of
            if tmpl is not None:  # output.filename: checking the whole filename covers it
                _check_template(tmpl)
