"""The service's own fixed messages in the customer's language (bot/phrases.yml, and a
brand's PHRASES_FILE on top): a language or phrase the brand did not write falls back to
the bot's own language, so every customer is told something they can act on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

DEFAULT_FILE = Path(__file__).with_name("phrases.yml")


class PhrasesError(ValueError):
    """The phrases file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Phrasebook:
    by_language: Mapping[str, Mapping[str, Any]]
    default_language: str = "en"

    @classmethod
    def load(cls, brand_file: str | Path | None = None, default_language: str = "en") -> Phrasebook:
        merged: dict[str, dict[str, Any]] = {}
        for path in (DEFAULT_FILE, *([Path(brand_file)] if brand_file else [])):
            for language, phrases in _read(path).items():
                merged.setdefault(language, {}).update(phrases)
        if default_language not in merged:
            raise PhrasesError(f"no phrases in the bot's own language {default_language!r}")
        return cls(merged, default_language)

    def languages(self) -> frozenset[str]:
        return frozenset(self.by_language)

    def get(self, key: str, language: str | None) -> Any:
        for tried in (language, self.default_language):
            if tried and key in self.by_language.get(tried, {}):
                return self.by_language[tried][key]
        raise KeyError(f"no phrase {key!r} in {self.default_language!r}")

    def say(self, key: str, language: str | None, **values: Any) -> str:
        return str(self.get(key, language)).format(**values)


@lru_cache(maxsize=1)
def shipped() -> Phrasebook:
    """bot/phrases.yml alone, read once."""
    return Phrasebook.load()


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise PhrasesError(f"PHRASES_FILE {path}: {error.strerror}") from error
    except Exception as error:
        raise PhrasesError(f"PHRASES_FILE {path} is not valid YAML: {error}") from error
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise PhrasesError(f"PHRASES_FILE {path}: expected a block of phrases per language code (en:, es:, ...)")
    return {str(language).lower(): dict(phrases) for language, phrases in data.items()}
