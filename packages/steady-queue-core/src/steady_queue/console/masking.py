"""Hiding secrets in what the console shows: values under keys named in the console's masked_argument_keys."""

from steady_queue.conf import get_config

MASK = "********"


def masked(value, keys=None):
    """A copy of a JSON value with the values of matching dict keys, at any depth, replaced by MASK.

    A key matches when it contains one of ``keys`` (default: the setting's), in any case.
    """
    if keys is None:
        keys = get_config().console.masked_argument_keys
    if isinstance(value, dict):
        return {
            key: MASK if any(word in str(key).lower() for word in keys) else masked(item, keys)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item, keys) for item in value]
    return value
