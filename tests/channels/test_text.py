from channels.text import split_text


def test_short_text_is_one_piece():
    assert split_text("Hello there.", 100) == ["Hello there."]


def test_long_text_splits_at_sentences_within_the_limit():
    text = "First sentence is here. Second one follows! Third? " * 5
    pieces = split_text(text, 60)
    assert all(len(p) <= 60 for p in pieces)
    assert " ".join(pieces) == " ".join(text.split())
    assert all(p.endswith((".", "!", "?")) for p in pieces)


def test_a_sentence_longer_than_the_limit_splits_at_words():
    pieces = split_text("word " * 50, 23)
    assert all(len(p) <= 23 for p in pieces) and all(not p.startswith(" ") for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 50


def test_only_a_single_overlong_word_is_cut():
    assert split_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
