"""Seeds in words (lowent/seedtext.py): the bounded reader of a seeds option, and the
report's "seeds" entry written and read back."""
import pytest

from lowent.config import SpecError
from lowent.seedtext import MAX_SEEDS, read_seeds, read_seeds_entry, seeds_entry


def test_seeds_are_read_as_written():
    assert read_seeds("0-4") == (0, 1, 2, 3, 4)
    assert read_seeds(" 0 - 2 , 5") == (0, 1, 2, 5)
    assert read_seeds("7") == (7,)
    assert len(read_seeds(f"0-{MAX_SEEDS - 1}")) == MAX_SEEDS


@pytest.mark.parametrize("text, says", [
    ("0-100_000_000", "'0-100_000_000' is not a seed or a range"),  # int() reads "_"...
    ("+0-99999999", "'+0-99999999' is not a seed or a range"),  # ... and "+"
    ("0-\u00b2", "is not a seed or a range"),  # a digit to str.isdigit, not to int()
    ("-1", "'-1' is not a seed or a range"),
    ("0,,2", "'' is not a seed or a range"),
    ("0,x", "'x' is not a seed or a range"),
    ("3-1", "seed range '3-1' is empty"),
    ("1,1", "must be distinct"),
    (f"0-{MAX_SEEDS}", f"name {MAX_SEEDS + 1:,} seeds; at most {MAX_SEEDS:,}"),
    ("  ", "no seeds given"),
    ("0-" + "9" * 5000, "a seed of more than 18 digits"),  # int() refuses over 4,300 digits
])
def test_a_bad_seeds_text_is_one_clear_error_before_any_list_is_built(text, says):
    """Each part is a seed or a range in ASCII digits, counted before parse_seeds builds
    the list: a text int() would read piecewise ("+0", "100_000_000") cannot slip past the
    bound as one seed and then build 10**8 of them."""
    with pytest.raises(SpecError) as err:
        read_seeds(text)
    assert says in str(err.value)


def test_the_seeds_entry_reads_back_what_was_written():
    """One writer (seedtext.seeds_entry), one reader (seedtext.read_seeds_entry) for the report's
    "seeds" entry: the count for `lowent power`/`compare`, the seeds for the replication."""
    for seeds in [(0,), (0, 1, 2, 3, 4), tuple(range(10, 24)), (0, 2, 5, 6, 7)]:
        assert read_seeds_entry(seeds_entry(seeds)) == (len(seeds), seeds)
    assert read_seeds_entry("5 per configuration") == (5, None)  # older reports
    assert read_seeds_entry("5 per configuration (0-3)") == (5, None)  # disagrees: not listed
    big = "1000000000 per configuration (0-999999999)"  # counted, never built
    assert read_seeds_entry(big) == (10**9, None)
    assert read_seeds_entry("5 per configuration (0-" + "9" * 5000 + ")") == (5, None)
    for bad in (None, "", "per configuration (0-4)", "9" * 5000 + " per configuration"):
        with pytest.raises(ValueError, match="seeds"):
            read_seeds_entry(bad)
