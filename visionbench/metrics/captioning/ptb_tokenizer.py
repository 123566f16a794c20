"""A pure-Python, PTB-style caption tokenizer mimicking the one COCO-caption evaluation uses.

pycocoevalcap tokenises every caption with the Java Stanford CoreNLP 3.4.1 ``PTBTokenizer``
(``-preserveLines -lowerCase``) and then drops the punctuation tokens in
:data:`COCO_PUNCTUATION`. Java is not available everywhere, so :func:`ptb_tokenize` does the
same job with regular expressions. What it does, in order:

1. Newlines become spaces (pycocoevalcap does this before calling Java: one caption, one line).
2. Lower-case (``str.lower``).
3. Unicode normalisation of the few characters captions contain: curly quotes become ``"``
   and ``'``, en/em dashes become ``--``, the ellipsis character becomes ``...``.
4. Split off as separate tokens: ``"`` (PTB's `````` / ``''``), ``; ! ? ( ) [ ] { } < >``,
   ``...``, ``--``, ``$ # %``, a comma or colon unless it sits between two digits
   (``1,000`` and ``10:30`` stay whole).
5. Clitics and contractions (PTB convention): ``n't 's 'm 'd 're 've 'll`` are split from the
   word before them (``don't`` -> ``do n't``, ``can't`` -> ``ca n't``, ``man's`` ->
   ``man 's``); ``cannot`` -> ``can not``; ``gonna gotta wanna`` -> ``gon na``, ``got ta``,
   ``wan na``.
6. A single quote at the start of a token (an opening quote) or at its end (a closing quote
   or a plural possessive, ``dogs'``) is split off.
7. A token-final period is split off unless the token is an abbreviation from a short fixed
   list (``mr. mrs. dr. st. vs. etc. ...``) or a dotted acronym of two or more letters
   (``u.s.``, ``a.m.``, ``e.g.``); periods inside a token (``3.5``, ``www.x.com``) stay.
8. Tokens made only of hyphens become ``--``.
9. Tokens in :data:`COCO_PUNCTUATION` (and the bracket characters) are dropped; the rest
   are joined with single spaces.

Where it may differ from the Java tokenizer (all rare in captions):

* CoreNLP's ``americanize`` rewrites British spellings (``colour`` -> ``color``); this does
  not, so a British hypothesis against an American reference can score lower here.
* CoreNLP's abbreviation detection uses a longer list and capitalisation cues from the
  original text (``J. Smith``); here it is a fixed list applied after lower-casing, so a
  single letter followed by a period (``plan a.``) is always split.
* Brackets: CoreNLP writes ``-LRB-``/``-RRB-``; with ``-lowerCase`` version 3.4.1 may emit
  them lower-cased, which the punctuation filter (upper-case names) would then keep. Here
  brackets are always dropped.
* CoreNLP escapes ``/`` and ``*`` (``\\/``) and normalises some other symbols. A rewrite
  applied to hypotheses and references alike does not change BLEU, so this is not done.
* Emoticons, URLs and e-mail addresses get CoreNLP's special handling there, not here.

The BLEU score itself (:func:`visionbench.metrics.captioning.bleu.coco_bleu`) is exact against
pycocoevalcap for any whitespace-tokenised input; only this tokenisation step is an
approximation, and the signature says which tokenizer ran (``tok=ptb-py``).
"""

from __future__ import annotations

import re

__all__ = ["COCO_PUNCTUATION", "ptb_tokenize"]

#: The punctuation tokens pycocoevalcap removes after PTB tokenisation (``ptbtokenizer.py``).
COCO_PUNCTUATION: tuple[str, ...] = (
    "''",
    "'",
    "``",
    "`",
    "-LRB-",
    "-RRB-",
    "-LCB-",
    "-RCB-",
    ".",
    "?",
    "!",
    ",",
    ":",
    "-",
    "--",
    "...",
    ";",
)

_DROP = frozenset(COCO_PUNCTUATION) | frozenset('()[]{}<>"')

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "mt",
        "ave",
        "blvd",
        "rd",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "fig",
        "gen",
        "gov",
        "sen",
        "rep",
        "lt",
        "col",
        "sgt",
        "capt",
    ]
)

_UNICODE = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2013": " -- ",
        "\u2014": " -- ",
        "\u2026": " ... ",
        "\n": " ",
        "\r": " ",
    }
)

_SPLIT_ALWAYS = re.compile(r'(\.\.\.|--|[";!?()\[\]{}<>$#%])')
_COMMA_COLON = re.compile(r"(?<!\d)([,:])|([,:])(?!\d)")
_NT = re.compile(r"(?<=\w)(n't)(?=\s|$)")
_CLITIC = re.compile(r"(?<=\w)('s|'m|'d|'re|'ve|'ll)(?=\s|$)")
_SPECIAL = {
    "cannot": ["can", "not"],
    "gonna": ["gon", "na"],
    "gotta": ["got", "ta"],
    "wanna": ["wan", "na"],
}
_ACRONYM = re.compile(r"(?:[a-z]\.){2,}")
_HYPHENS = re.compile(r"-{2,}")
_CLITICS = frozenset({"'s", "'m", "'d", "'re", "'ve", "'ll", "n't"})


def ptb_tokenize(text: str) -> str:
    """Tokenise one raw caption the COCO-caption way (see the module docstring).

    Args:
        text: a raw caption, any case, with punctuation.

    Returns:
        Lower-cased tokens joined by single spaces, punctuation tokens removed;
        ``"A man's dog, running."`` -> ``"a man 's dog running"``.

    Raises:
        TypeError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"ptb_tokenize expects a str, got {type(text).__name__}")
    s = text.lower().translate(_UNICODE)
    s = _SPLIT_ALWAYS.sub(r" \1 ", s)
    s = _COMMA_COLON.sub(lambda m: f" {m.group(1) or m.group(2)} ", s)
    s = _NT.sub(r" \1", s)
    s = _CLITIC.sub(r" \1", s)
    out: list[str] = []
    for token in s.split():
        out.extend(_split_token(token))
    return " ".join(t for t in out if t not in _DROP)


def _split_token(token: str) -> list[str]:
    """Split quotes and a final period off one whitespace-free token."""
    if token in _CLITICS:
        return [token]
    if _HYPHENS.fullmatch(token):
        return ["--"]
    head: list[str] = []
    tail: list[str] = []
    while len(token) > 1 and token[0] in "'`":
        head.append("`")
        token = token[1:]
    while len(token) > 1 and token[-1] == "'":
        tail.insert(0, "'")
        token = token[:-1]
    if len(token) > 1 and token.endswith(".") and not token.endswith(".."):
        stem = token[:-1]
        if stem not in _ABBREVIATIONS and not _ACRONYM.fullmatch(token):
            tail.insert(0, ".")
            token = stem
    return [*head, *_SPECIAL.get(token, [token]), *tail]
