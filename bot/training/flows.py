"""Rules and stories: find the ones an intent takes part in, add, replace or remove one.

Edits splice text: the lines of the one entry change and every other byte of the file
stays as the trainers wrote it (comments, blank lines, order). The entry itself is
re-written in the file's own list style, and the whole file is parsed again before it is
saved, so a bad edit never reaches the disk.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bot.training.annotate import AnnotationError, domain_intents, load, write_atomically, yaml_for
from bot.training.project import Project

KINDS = {"rule": "rules", "story": "stories"}
ENTRY_KEYS = {"rule": {"rule", "steps", "condition", "conversation_start", "wait_for_user_input"},
              "story": {"story", "steps", "metadata"}}
STEP_KEYS = {"intent", "user", "entities", "action", "bot", "active_loop", "slot_was_set", "checkpoint", "or"}
# Rasa's own intents and actions, which no domain lists.
DEFAULT_INTENTS = frozenset({"restart", "back", "out_of_scope", "session_start", "nlu_fallback"})
DEFAULT_ACTIONS = frozenset({
    "action_listen", "action_restart", "action_session_start", "action_default_fallback",
    "action_deactivate_loop", "action_revert_fallback_events", "action_default_ask_affirmation",
    "action_default_ask_rephrase", "action_two_stage_fallback", "action_unlikely_intent", "action_back",
    "action_extract_slots",
})


@dataclass(frozen=True)
class Flow:
    kind: str  # rule | story
    name: str
    file: str  # relative to the data directory
    yaml: str  # the entry as it stands in the file


@dataclass(frozen=True)
class _Entry:
    kind: str
    name: str
    path: Path
    start: int  # first line (0-based)
    end: int  # one past its last line, trailing blank and outer comment lines excluded
    indent: int


def flows_for_intent(project: Project, intent: str) -> list[Flow]:
    """The rules and stories with a step (or an `or` alternative) of `intent`."""
    return [_flow(project, entry) for entry, value in _entries(project) if intent in _intents_of(value)]


def flows_of_kind(project: Project, kind: str) -> list[Flow]:
    return [_flow(project, entry) for entry, _ in _entries(project) if entry.kind == kind]


def _flow(project: Project, entry: _Entry) -> Flow:
    lines = entry.path.read_text(encoding="utf-8").splitlines(keepends=True)[entry.start:entry.end]
    text = "".join(line[entry.indent:] if line[:entry.indent].isspace() else line for line in lines)
    return Flow(entry.kind, entry.name, str(entry.path.relative_to(project.data_dir)), text)


def save_flow(project: Project, kind: str, text: str, replaces: str | None = None) -> Flow:
    """Add a rule or story written in Rasa's YAML, or replace the one named `replaces`."""
    if kind not in KINDS:
        raise AnnotationError(f"a flow is a rule or a story, not {kind!r}")
    value = _parse_entry(kind, text)
    _check(project, kind, value)
    name = str(value[kind])
    entries = [e for e, _ in _entries(project) if e.kind == kind]
    if any(e.name == name for e in entries) and name != replaces:
        raise AnnotationError(f"there is a {kind} called {name!r} already")
    if replaces is not None:
        target = next((e for e in entries if e.name == replaces), None)
        if target is None:
            raise AnnotationError(f"no {kind} called {replaces!r}")
        source = target.path.read_text(encoding="utf-8")
        lines = source.splitlines(keepends=True)
        lines[target.start:target.end] = _render(value, source, target.indent)
        path = target.path
    else:
        path = project.rules_file if kind == "rule" else project.data_dir / "stories.yml"
        source = path.read_text(encoding="utf-8") if path.exists() else f'version: "3.1"\n\n{KINDS[kind]}:\n'
        lines = _appended(source, kind, value, [e for e in entries if e.path == path])
    _write_checked(path, "".join(lines), kind)
    return next(f for f in flows_of_kind(project, kind) if f.name == name)


def remove_flow(project: Project, kind: str, name: str) -> None:
    target = next((e for e, _ in _entries(project) if e.kind == kind and e.name == name), None)
    if target is None:
        raise AnnotationError(f"no {kind} called {name!r}")
    lines = target.path.read_text(encoding="utf-8").splitlines(keepends=True)
    start, end = target.start, target.end
    # The blank lines that separated it from what follows go with it; at the end of the
    # file, the ones that separated it from what came before.
    while end < len(lines) and not lines[end].strip():
        end += 1
    if end == len(lines):
        while start > 0 and not lines[start - 1].strip():
            start -= 1
    del lines[start:end]
    _write_checked(target.path, "".join(lines), kind)


# --- reading --------------------------------------------------------------------------------

def _entries(project: Project) -> list[tuple[_Entry, Any]]:
    found = []
    for path in project.data_files():
        if path.suffix not in (".yml", ".yaml"):
            continue
        _, data = load(path)
        if not isinstance(data, CommentedMap):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for kind, key in KINDS.items():
            items = data.get(key)
            if not isinstance(items, CommentedSeq):
                continue
            for index, value in enumerate(items):
                if not isinstance(value, CommentedMap) or kind not in value:
                    continue
                line, column = items.lc.item(index)
                indent = max(0, column - 2)
                following = items.lc.item(index + 1)[0] if index + 1 < len(items) else _list_end(lines, line, indent)
                found.append((_Entry(kind, str(value[kind]), path, line, _trimmed(lines, line, following, indent),
                                     indent), value))
    return found


def _list_end(lines: list[str], start: int, indent: int) -> int:
    """The line after the list whose last item starts at `start`."""
    for number in range(start + 1, len(lines)):
        line = lines[number]
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(stripped)
        if depth < indent or (depth == indent and not stripped.startswith("- ")):
            return number
    return len(lines)


def _trimmed(lines: list[str], start: int, end: int, indent: int) -> int:
    """Leave out the blank lines and the comments at the list's own depth that end the span:
    they introduce what follows."""
    while end > start + 1:
        line = lines[end - 1]
        stripped = line.lstrip()
        if not stripped or (stripped.startswith("#") and len(line) - len(stripped) <= indent):
            end -= 1
        else:
            break
    return end


def _intents_of(entry: Any) -> set[str]:
    names = set()
    for step in entry.get("steps") or []:
        if not isinstance(step, dict):
            continue
        if "intent" in step:
            names.add(str(step["intent"]))
        for alternative in step.get("or") or []:
            if isinstance(alternative, dict) and "intent" in alternative:
                names.add(str(alternative["intent"]))
    return names


# --- writing --------------------------------------------------------------------------------

def _parse_entry(kind: str, text: str) -> CommentedMap:
    try:
        value = YAML().load(text)
    except YAMLError as error:
        raise AnnotationError(f"not valid YAML: {str(error).splitlines()[0]}") from None
    if isinstance(value, CommentedSeq) and len(value) == 1:
        value = value[0]
    if not isinstance(value, CommentedMap) or kind not in value:
        raise AnnotationError(f"write one {kind}: `- {kind}: a name` followed by its `steps:`")
    return value


def _check(project: Project, kind: str, value: CommentedMap) -> None:
    name = value.get(kind)
    if not isinstance(name, str) or not name.strip():
        raise AnnotationError(f"the {kind} needs a name")
    unknown = set(value) - ENTRY_KEYS[kind]
    if unknown:
        raise AnnotationError(f"a {kind} has no key {sorted(unknown)[0]!r}")
    steps = value.get("steps")
    if not isinstance(steps, list) or not steps:
        raise AnnotationError(f"the {kind} needs at least one step")
    intents = set(domain_intents(project)) | DEFAULT_INTENTS
    actions = actions_of(project) | DEFAULT_ACTIONS
    for number, step in enumerate(steps, 1):
        if not isinstance(step, dict) or not step:
            raise AnnotationError(f"step {number} is not a `key: value` step")
        bad = set(step) - STEP_KEYS
        if bad:
            raise AnnotationError(f"step {number}: unknown key {sorted(bad)[0]!r}")
        alternatives = [a for a in step.get("or") or [] if isinstance(a, dict)]
        for candidate in [step, *alternatives]:
            if "intent" in candidate and str(candidate["intent"]) not in intents:
                raise AnnotationError(f"step {number}: no intent {candidate['intent']!r} in the domain")
        if "action" in step and str(step["action"]) not in actions:
            raise AnnotationError(f"step {number}: no action or response {step['action']!r} in the domain")


def actions_of(project: Project) -> set[str]:
    """The domain's actions, responses and forms: what a step's `action` may name."""
    _, domain = load(project.domain_file)
    domain = domain or {}
    names = {str(a if not isinstance(a, dict) else next(iter(a))) for a in domain.get("actions") or []}
    names |= {str(name) for name in (domain.get("responses") or {})}
    names |= {str(name) for name in (domain.get("forms") or {})}
    return names


def _render(value: CommentedMap, source: str, indent: int) -> list[str]:
    """The entry as a one-item list in the file's style, at the list's depth."""
    yaml = yaml_for(source)
    out = io.StringIO()
    yaml.dump(CommentedSeq([value]), out)
    return [(" " * indent + line) if line.strip() else line for line in out.getvalue().splitlines(keepends=True)]


def _appended(source: str, kind: str, value: CommentedMap, entries: list[_Entry]) -> list[str]:
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if entries:
        ordered = sorted(entries, key=lambda e: e.start)
        last = ordered[-1]
        # Entries separated by blank lines get one before the new entry too.
        spaced = len(ordered) < 2 or any(not line.strip() for line in lines[ordered[0].end:ordered[1].start])
        return lines[:last.end] + (["\n"] if spaced else []) + _render(value, source, last.indent) + lines[last.end:]
    key_line = next((i for i, line in enumerate(lines) if line.rstrip() == f"{KINDS[kind]}:"), None)
    if key_line is None:
        return lines + ["\n", f"{KINDS[kind]}:\n"] + _render(value, source, 0)
    return lines[:key_line + 1] + _render(value, source, 0) + lines[key_line + 1:]


def _write_checked(path: Path, text: str, kind: str) -> None:
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as error:
        raise AnnotationError(f"the edit would break {path.name}: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get(KINDS[kind]) or [], list):
        raise AnnotationError(f"the edit would break {path.name}")
    write_atomically(path, text)
