import pytest

from steady_queue import queue_patterns


@pytest.mark.parametrize(
    ("pattern", "parsed"),
    [("*", ("all", "")), ("mail*", ("prefix", "mail")), ("email", ("name", "email"))],
)
def test_a_pattern_is_a_name_a_prefix_or_every_queue(pattern, parsed):
    assert queue_patterns.parse(pattern) == parsed


@pytest.mark.parametrize("bad", ["", " ", "a,b", " email", "*mail", "ma*il", None])
def test_bad_patterns_are_explained(bad):
    assert queue_patterns.problem(bad)
