"""Teaching the model: training examples, new intents, their responses and rules.

Every edit is a ruamel.yaml round trip of the file, so comments, blank lines, quoting and
the `examples: |` block style stay as the trainers wrote them; only the added lines change.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from bot.training.project import Project
from bot.training.review import normalise

INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SEQUENCE_ITEM = re.compile(r"^( *)- ")
_KEY_LINE = re.compile(r"^( *)[^#\s][^:]*:\s*$")


class AnnotationError(ValueError):
    """The edit cannot be made (unknown intent, name taken, bad name); the message says why."""


@dataclass(frozen=True)
class Annotation:
    intent: str
    text: str
    added: bool  # False when the example was there already
    new_intent: bool = False


# --- reading and writing YAML the way the file is laid out -----------------------------

def yaml_for(text: str) -> YAML:
    """A round-trip YAML whose list indentation matches the file's own (Rasa's data files
    write `- item` flush under the key, domain.yml indents it by two)."""
    offset, previous_key = 0, None
    for line in text.splitlines():
        item = _SEQUENCE_ITEM.match(line)
        if item and previous_key is not None:
            offset = len(item.group(1)) - previous_key
            break
        key = _KEY_LINE.match(line)
        if key:
            previous_key = len(key.group(1))
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    # `null` stays `null` (Rasa's stories write `active_loop: null`), not an empty value.
    yaml.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yaml


def load(path: Path) -> tuple[YAML, Any]:
    text = path.read_text(encoding="utf-8")
    yaml = yaml_for(text)
    return yaml, yaml.load(text)


def dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def save(path: Path, yaml: YAML, data: Any) -> None:
    write_atomically(path, dump(yaml, data))


def write_atomically(path: Path, text: str) -> None:
    # Written whole and renamed: a crash never leaves half a training file.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _gap() -> CommentToken:
    return CommentToken("\n\n", CommentMark(0), None)


def _fitted(token: CommentToken, value: Any) -> CommentToken:
    """Blank lines are stored as the end of the line before them, except after a block
    scalar, which ends its own line: one newline fewer there."""
    text = token.value
    if isinstance(value, LiteralScalarString) and text.startswith("\n"):
        text = text[1:]
    elif not isinstance(value, LiteralScalarString) and not text.startswith("\n"):
        text = "\n" + text
    return CommentToken(text, CommentMark(0), None)


def _take_trailing(node: Any) -> CommentToken | None:
    """Detach the comment/blank lines printed after a collection's last element."""
    if isinstance(node, CommentedMap) and node:
        key = list(node)[-1]
        inner = _take_trailing(node[key])
        if inner is not None:
            return inner
        slots = node.ca.items.get(key)
        if slots and len(slots) > 2 and slots[2] is not None:
            token, slots[2] = _fitted(slots[2], "") if isinstance(node[key], LiteralScalarString) else slots[2], None
            return token
    if isinstance(node, CommentedSeq) and node:
        inner = _take_trailing(node[-1])
        if inner is not None:
            return inner
        slots = node.ca.items.get(len(node) - 1)
        if slots and slots[0] is not None:
            token, slots[0] = _fitted(slots[0], "") if isinstance(node[-1], LiteralScalarString) else slots[0], None
            return token
    return None


def _attach_trailing(node: Any, token: CommentToken | None) -> None:
    if token is None:
        return
    if isinstance(node, CommentedMap) and node:
        key = list(node)[-1]
        if isinstance(node[key], (CommentedMap, CommentedSeq)) and node[key]:
            _attach_trailing(node[key], token)
        else:
            node.ca.items[key] = [None, None, _fitted(token, node[key]), None]
    elif isinstance(node, CommentedSeq) and node:
        if isinstance(node[-1], (CommentedMap, CommentedSeq)) and node[-1]:
            _attach_trailing(node[-1], token)
        else:
            node.ca.items[len(node) - 1] = [_fitted(token, node[-1]), None]


def _insert(collection: CommentedSeq | CommentedMap, value: Any, *, key: str | None = None,
            at: int | None = None, spaced: bool) -> None:
    """Add after the element at `at - 1` (default: at the end), keeping the file's layout:
    the blank lines that followed the old element now follow the new one, and in a
    `spaced` collection (items separated by blank lines) the old element gets one."""
    position = len(collection) if at is None else at
    if position == len(collection):
        token = _take_trailing(collection)
        if spaced and len(collection):
            _attach_trailing(collection, _gap())
    else:
        token = _gap() if spaced else None
    if isinstance(collection, CommentedMap):
        collection.insert(position, key, value)
    else:
        collection.insert(position, value)
    _attach_trailing(value if isinstance(value, (CommentedMap, CommentedSeq)) else collection, token)


# --- the Rasa files ------------------------------------------------------------------------

def _examples(block: Any) -> list[str]:
    return [line.strip()[2:].strip() for line in str(block or "").splitlines() if line.strip().startswith("- ")]


def intent_examples(project: Project) -> dict[str, list[str]]:
    """Every intent of the domain and the NLU data, with its examples (data order)."""
    found: dict[str, list[str]] = {name: [] for name in domain_intents(project)}
    for path in _nlu_files(project):
        _, data = load(path)
        for item in (data or {}).get("nlu") or []:
            if isinstance(item, dict) and "intent" in item:
                found.setdefault(str(item["intent"]), []).extend(_examples(item.get("examples")))
    return found


def known_examples(project: Project) -> frozenset[str]:
    return frozenset(normalise(e) for examples in intent_examples(project).values() for e in examples)


def domain_intents(project: Project) -> list[str]:
    _, domain = load(project.domain_file)
    return [str(next(iter(i))) if isinstance(i, dict) else str(i) for i in (domain or {}).get("intents") or []]


def add_example(project: Project, intent: str, text: str) -> Annotation:
    """Append `text` to the intent's examples in data/nlu.yml (or whichever NLU file holds it)."""
    text = _one_line(text)
    if intent not in intent_examples(project):
        raise AnnotationError(f"no intent {intent!r}; create it with --new and a --response")
    for path in _nlu_files(project) or [project.nlu_file]:
        yaml, data = load(path)
        for item in (data or {}).get("nlu") or []:
            if isinstance(item, dict) and item.get("intent") == intent:
                if normalise(text) in {normalise(e) for e in _examples(item.get("examples"))}:
                    return Annotation(intent, text, added=False)
                block = str(item.get("examples") or "")
                item["examples"] = LiteralScalarString(block + ("" if block.endswith("\n") or not block else "\n")
                                                       + f"- {text}\n")
                save(path, yaml, data)
                return Annotation(intent, text, added=True)
    # An intent of the domain with no examples yet.
    _append_intent_examples(project, intent, text)
    return Annotation(intent, text, added=True)


def add_intent(project: Project, intent: str, text: str, response: str) -> Annotation:
    """A new intent: its first example, the intent and `utter_<intent>` in the domain, and a
    rule answering the one with the other."""
    text, response = _one_line(text), response.strip()
    if not INTENT_NAME.match(intent):
        raise AnnotationError(f"intent names are lower_case_with_underscores, not {intent!r}")
    if intent in intent_examples(project):
        raise AnnotationError(f"intent {intent!r} exists; add examples to it without --new")
    if not response:
        raise AnnotationError("a new intent needs a --response for the bot to answer with")
    yaml, domain = load(project.domain_file)
    _insert(domain.setdefault("intents", CommentedSeq()), intent, spaced=False)
    responses = domain.setdefault("responses", CommentedMap())
    utterance = f"utter_{intent}"
    if utterance not in responses:
        variation = CommentedMap([("text", DoubleQuotedScalarString(response))])
        _insert(responses, CommentedSeq([variation]), key=utterance, spaced=True)
    _append_intent_examples(project, intent, text)
    save(project.domain_file, yaml, domain)
    add_rule(project, f"ask {intent}", intent, utterance)
    return Annotation(intent, text, added=True, new_intent=True)


def add_rule(project: Project, name: str, intent: str, action: str) -> None:
    path = project.rules_file
    if path.exists():
        yaml, data = load(path)
    else:
        yaml, data = yaml_for(""), CommentedMap([("version", DoubleQuotedScalarString("3.1"))])
    rules = data.setdefault("rules", CommentedSeq())
    if any(isinstance(r, dict) and r.get("rule") == name for r in rules):
        return
    steps = CommentedSeq([CommentedMap([("intent", intent)]), CommentedMap([("action", action)])])
    _insert(rules, CommentedMap([("rule", name), ("steps", steps)]), spaced=True)
    save(path, yaml, data)


def set_response(project: Project, intent: str, response: str) -> None:
    """Replace the text of `utter_<intent>` (its first variation), keeping any buttons."""
    if not response.strip():
        raise AnnotationError("the response is empty")
    yaml, domain = load(project.domain_file)
    variations = (domain.get("responses") or {}).get(f"utter_{intent}")
    if not variations:
        raise AnnotationError(f"no response utter_{intent} in {project.domain_file.name}")
    variations[0]["text"] = DoubleQuotedScalarString(response.strip())
    save(project.domain_file, yaml, domain)


def replace_example(project: Project, intent: str, old: str, new: str | None) -> None:
    """Rewrite one example of `intent` (or remove it when `new` is None), its line in place."""
    wanted = normalise(old)
    replacement = None if new is None else _one_line(new)
    for path in _nlu_files(project):
        yaml, data = load(path)
        for item in (data or {}).get("nlu") or []:
            if not (isinstance(item, dict) and item.get("intent") == intent):
                continue
            lines = str(item.get("examples") or "").splitlines(keepends=True)
            index = next((i for i, line in enumerate(lines)
                          if line.strip().startswith("- ") and normalise(line.strip()[2:]) == wanted), None)
            if index is None:
                continue
            if replacement is not None:
                if replacement != old.strip() and normalise(replacement) in {
                        normalise(e) for e in _examples(item.get("examples"))}:
                    raise AnnotationError(f"{intent} has the example {replacement!r} already")
                prefix = lines[index][:lines[index].index("- ") + 2]
                lines[index] = f"{prefix}{replacement}\n"
            else:
                del lines[index]
            if not lines:
                raise AnnotationError(f"{intent} needs at least one example; add another before removing this one")
            item["examples"] = LiteralScalarString("".join(lines))
            save(path, yaml, data)
            return
    raise AnnotationError(f"{intent} has no example {old!r}")


def responses_of(project: Project) -> dict[str, str]:
    """The first text of each `utter_<intent>` response, by intent."""
    _, domain = load(project.domain_file)
    found = {}
    for name, variations in ((domain or {}).get("responses") or {}).items():
        if str(name).startswith("utter_") and variations and isinstance(variations[0], dict):
            found[str(name)[len("utter_"):]] = str(variations[0].get("text") or "")
    return found


@contextmanager
def editing(project: Project, timeout: float = 30) -> Iterator[None]:
    """One edit of the project's files at a time, across the CLI and every web process: two
    round trips of the same file at once would lose one of the edits."""
    with FileLock(str(project.root / ".training-edit.lock"), timeout=timeout):
        yield


def _append_intent_examples(project: Project, intent: str, text: str) -> None:
    path = project.nlu_file
    yaml, data = load(path)
    items = data.setdefault("nlu", CommentedSeq())
    # After the last intent, before regexes, synonyms and lookup tables.
    last = max((i for i, item in enumerate(items) if isinstance(item, dict) and "intent" in item), default=-1)
    entry = CommentedMap([("intent", intent), ("examples", LiteralScalarString(f"- {text}\n"))])
    _insert(items, entry, at=last + 1, spaced=True)
    save(path, yaml, data)


def _nlu_files(project: Project) -> list[Path]:
    files = []
    for path in project.data_files():
        if path.suffix in (".yml", ".yaml") and re.search(r"^nlu:", path.read_text(encoding="utf-8"), re.M):
            files.append(path)
    return sorted(files, key=lambda p: (p != project.nlu_file, p))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    if not line:
        raise AnnotationError("the example is empty")
    return line
