"""Queue patterns, as workers are given them: a name ("email"), a prefix ("mail*") or every queue ("*").

Parsed here once; each database's SQL and the ORM claim turn the parsed form into their own filter.
"""

from typing import NamedTuple


class QueuePattern(NamedTuple):
    """``kind`` is "all", "prefix" or "name"; ``text`` is the prefix or the name ("" for "all")."""

    kind: str
    text: str


def parse(pattern):
    """The QueuePattern of a valid pattern (see problem())."""
    if pattern == "*":
        return QueuePattern("all", "")
    if pattern.endswith("*"):
        return QueuePattern("prefix", pattern[:-1])
    return QueuePattern("name", pattern)


def problem(name):
    """Say what is wrong with a queue name or pattern ('*', 'mail*', 'email'), or return None."""
    if not isinstance(name, str) or not name.strip():
        return f"a queue name must be a non-empty string, not {name!r}."
    if name != name.strip() or "," in name:
        return f"queue name {name!r} may not contain commas or surrounding spaces."
    if "*" in name[:-1]:
        return f"queue pattern {name!r} may only have '*' at its end ('*' or 'prefix*')."
    return None
