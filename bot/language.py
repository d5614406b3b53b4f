"""Which language a customer writes in, when it is clearly not the bot's own.

lingua's detector (Apache-2.0, its models inside the wheel, nothing fetched at run time)
weighs the languages of CUSTOMER_LANGUAGES. A message counts as another language only
when it has two words or more, the bot's language gets under 10% of the confidence and
one other language at least half: one word ("ok", "Madrid") says little, English
questions resembling Spanish ("do you deliver abroad") still keep a few percent, and
made-up words ("blorp zindle quaxx") spread theirs over several languages. Measured on tests/conversations/: 1 English
message in 11,592 (HWU64 and the demo's own) taken for another language, 29 of 32
Spanish, French, German, Portuguese and Italian messages recognised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.settings import Settings, SettingsError

BOT_LANGUAGE_BELOW = 0.1
# ...and one other language must stand out: made-up words spread their confidence over
# several (about 0.4 each), real sentences give their language 0.5 or more.
LEADER_AT_LEAST = 0.5
MIN_WORDS = 2
# Words of letters only: a postcode or order code ("ZZ9 9ZZ", "AB1") is in no language.
WORD = re.compile(r"(?<!\w)[^\W\d_]{2,}(?!\w)")


class LanguageDetector:
    def __init__(self, languages: Sequence[str]) -> None:
        """`languages`: ISO 639-1 codes, the bot's own first. Loading takes about half a
        second and some 30 MB per language, so it is done once per process."""
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        codes = [IsoCode639_1.from_str(code.strip().lower()) for code in languages]
        self.bot_language = languages[0].strip().lower()
        self._bot = Language.from_iso_code_639_1(codes[0])
        self._detector = None
        if len(codes) > 1:
            self._detector = (LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
                              .with_preloaded_language_models().build())

    def other_language(self, text: str) -> str | None:
        """The ISO 639-1 code of the language `text` is in, when it is clearly not the
        bot's; None when it is the bot's or cannot be told."""
        words = WORD.findall(text)
        if self._detector is None or len(words) < MIN_WORDS:
            return None
        values = self._detector.compute_language_confidence_values(" ".join(words))
        if not values:
            return None
        bot_share = next((v.value for v in values if v.language == self._bot), 0.0)
        if bot_share >= BOT_LANGUAGE_BELOW or values[0].value < LEADER_AT_LEAST:
            return None
        return values[0].language.iso_code_639_1.name.lower()


def language_detector(settings: Settings) -> LanguageDetector | None:
    """The detector CUSTOMER_LANGUAGES asks for; None for a single language."""
    codes = [code.strip().lower() for code in settings.customer_languages.split(",") if code.strip()]
    if len(codes) < 2:
        return None
    from lingua import IsoCode639_1

    for code in codes:
        try:
            IsoCode639_1.from_str(code)
        except ValueError:
            raise SettingsError(f"CUSTOMER_LANGUAGES: {code!r} is not a language code the detector knows "
                                "(ISO 639-1, such as en, es, fr)") from None
    return LanguageDetector(codes)
