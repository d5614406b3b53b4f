"""Whether a message is keyboard mashing or a run of one key, not words. Pure, linear.

Such text has no intent, yet a classifier still gives it one: "asdfgh" scored 0.4-0.6 on
words it shares letters with, and was answered as "yes". The router asks the customer to
rephrase instead. Only clear cases count: a text is gibberish when every word of four
letters or more is mashing and there is at least one, so "thx", "ok", order numbers,
abbreviations such as "thnx" and any sentence with a real word go to the model as before.
"""

from __future__ import annotations

import re

# Enough to judge; a long text of mashing is judged by its beginning.
MAX_CHARS = 500
WORD = re.compile(r"[^\W\d_]+")
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "azertyuiop")
VOWELS = frozenset("aeiouy")


def looks_like_gibberish(text: str) -> bool:
    words = WORD.findall(text[:MAX_CHARS].lower())
    long_words = [w for w in words if len(w) >= 4]
    if not long_words or len(words) - len(long_words) > len(long_words):
        return False
    return all(_is_mashing(w) for w in long_words)


def _is_mashing(word: str) -> bool:
    # One or two keys held or alternated: "aaaaaa", "jkjkjk", "hahaha".
    if len(word) >= 5 and len(set(word)) <= 2:
        return True
    if not word.isascii():
        return False  # other scripts: only the test above applies
    if len(word) >= 4 and _along_a_keyboard_row(word):
        return True
    # Six letters or more without a vowel: no English or Spanish word ("thnx" stays a word).
    return len(word) >= 6 and not VOWELS.intersection(word)


def _along_a_keyboard_row(word: str) -> bool:
    return any(word in row or word in row[::-1] for row in KEYBOARD_ROWS)
