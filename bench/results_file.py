"""bench/results.md holds the figures of several benchmarks, each in a section of its own
between markers; each benchmark rewrites its section and leaves the others as they are."""

from __future__ import annotations

from pathlib import Path


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def replace_section(document: str, name: str, text: str, legacy_heading: str | None = None) -> str:
    """`document` with section `name` replaced by `text` (added at the end if absent).

    `legacy_heading`: a section written before the markers, from that heading at the
    start of a line to the next "## " heading (or the end), is the one replaced."""
    begin, end = _markers(name)
    block = f"{begin}\n{text.strip()}\n{end}\n"
    if begin in document and end in document:
        before, rest = document.split(begin, 1)
        return before + block + rest.split(end, 1)[1].lstrip("\n")
    if legacy_heading is not None:
        lines = document.splitlines(keepends=True)
        starts = [n for n, line in enumerate(lines) if line.startswith(legacy_heading)]
        if starts:
            first = starts[0]
            following = [n for n in range(first + 1, len(lines)) if lines[n].startswith("## ")]
            last = following[0] if following else len(lines)
            return "".join(lines[:first]) + block + "\n" * bool(following) + "".join(lines[last:])
    return (document.rstrip("\n") + "\n\n" if document.strip() else "") + block


def write_section(path: Path, name: str, text: str, legacy_heading: str | None = None) -> None:
    document = path.read_text() if path.exists() else ""
    path.write_text(replace_section(document, name, text, legacy_heading))
