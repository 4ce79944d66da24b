"""Seeds in words: a seeds option read with a bound ("0-9"), compact ranges ("0-2,5"), and
the claims report's "seeds" entry, written by one function and read back by one
("14 per configuration (10-23)").

Kept out of lowent/config.py on purpose: that module is a training source (lowent.cache),
and an edit there changes every cache key.
"""
from __future__ import annotations

import re

from lowent.config import SpecError, parse_seeds


MAX_SEEDS = 10_000  # more seeds than any run set could train: a typo, not a plan


MAX_DIGITS = 18  # a seed's digits (int() refuses over 4,300; a seed fits in 64 bits)
_PART = re.compile(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?")  # "3" or "0-9", ASCII digits


def _short(text: str, most: int = 40) -> str:
    """`text` cut to `most` characters for an error message."""
    return text if len(text) <= most else text[:most] + "..."


def read_seeds(text: str) -> tuple[int, ...]:
    """:func:`lowent.config.parse_seeds`, with a one-line error for an empty text, a part
    that is not a seed or a range of them in ASCII digits (int() alone would also read
    "+3", "1_000" or other scripts' digits), or a set of more than MAX_SEEDS seeds (counted
    before any list is built)."""
    if not text.strip():
        raise SpecError("no seeds given; write them as e.g. 0-4 or 0,2,5-7")
    count = 0
    for part in text.split(","):
        m = _PART.fullmatch(part)
        if m is None:
            raise SpecError(f"cannot read seeds {_short(text)!r}: {_short(part.strip())!r} is "
                            "not a seed or a range of seeds; use e.g. 0-7 or 0,2,5 (seeds are "
                            "whole numbers, 0 or more)")
        if any(len(g) > MAX_DIGITS for g in m.groups() if g):
            raise SpecError(f"seeds {_short(text)!r}: a seed of more than {MAX_DIGITS} digits")
        count += 1 if m[2] is None else max(0, int(m[2]) - int(m[1]) + 1)
    if count > MAX_SEEDS:
        raise SpecError(f"seeds {_short(text)!r} name {count:,} seeds; at most {MAX_SEEDS:,}")
    return parse_seeds(text)


def format_seeds(seeds) -> str:
    """Seeds as compact ranges, in order: (0, 1, 2, 5) -> "0-2,5"."""
    out, seeds = [], list(seeds)
    i = 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        out.append(str(seeds[i]) if i == j else f"{seeds[i]}-{seeds[j]}")
        i = j + 1
    return ",".join(out)


def seeds_entry(seeds) -> str:
    """A report's "seeds" entry: "14 per configuration (10-23)" (read back by
    read_seeds_entry)."""
    seeds = tuple(seeds)
    return f"{len(seeds)} per configuration ({format_seeds(seeds)})"


def read_seeds_entry(entry) -> tuple[int, tuple[int, ...] | None]:
    """A report's "seeds" entry read back: (seeds per configuration, the seeds, or None
    where the entry does not list them, as in older reports' "5 per configuration").
    A list that disagrees with the count, or names more than MAX_SEEDS seeds, reads as not
    listed. Raises ValueError where the entry does not give the count."""
    text = "" if entry is None else str(entry)
    m = re.match(rf"\s*([0-9]{{1,{MAX_DIGITS}}})(?![0-9])", text)
    if m is None:
        raise ValueError("the report does not say how many seeds it used (environment 'seeds')")
    listed = re.search(r"\(([0-9,\s-]+)\)\s*$", text)
    try:  # read_seeds counts a list before building it: a report is untrusted input
        seeds = read_seeds(listed[1]) if listed else None
    except SpecError:
        seeds = None
    count = int(m[1])
    return count, seeds if seeds is None or len(seeds) == count else None
