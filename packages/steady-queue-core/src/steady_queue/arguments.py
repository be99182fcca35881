"""Task arguments: turned into JSON before anything is written, and back into Python in the worker.

JSON types pass through unchanged (tuples become lists). A few more types are written as a tagged
object ``{"__sq__": <type>, "v": <value>}``: ``datetime``, ``date``, ``time``, ``timedelta``,
``Decimal``, ``UUID`` and saved Django model instances (by model label and primary key). A user dict
that itself holds the ``"__sq__"`` key is wrapped as ``{"__sq__": "dict", "v": {...}}`` so that it
can never be mistaken for a tag.
"""

import datetime
import decimal
import math
import uuid

from django.apps import apps
from django.db import models

from steady_queue.exceptions import SteadyQueueError

TAG = "__sq__"


class SerializationError(SteadyQueueError, TypeError):
    """An argument cannot be stored as JSON; raised at enqueue, before anything is written."""

    def __init__(self, where, problem):
        self.where = where
        super().__init__(f"{where} {problem}")


class DeserializationError(SteadyQueueError):
    """A stored argument cannot be turned back into Python (for example, its model row is gone)."""


def serialize(args, kwargs):
    """Return (args, kwargs) as JSON-ready values, or raise SerializationError naming the argument."""
    return (
        [_encode(value, f"args[{index}]") for index, value in enumerate(args)],
        {_key(key, "kwargs"): _encode(value, f"kwargs[{key!r}]") for key, value in kwargs.items()},
    )


def deserialize(args, kwargs):
    """Return the Python (args, kwargs) for stored JSON values; raise DeserializationError."""
    return [_decode(value) for value in args], {key: _decode(value) for key, value in kwargs.items()}


def _key(key, where):
    if not isinstance(key, str):
        raise SerializationError(where, f"has a key {key!r} of type {type(key).__name__}: dict keys must be strings.")
    if "\x00" in key:
        raise SerializationError(where, "has a key with a NUL character, which PostgreSQL cannot store.")
    return key


def _encode(value, where):
    # Checked first and in order of frequency: most arguments are plain JSON.
    if isinstance(value, str):
        if "\x00" in value:
            raise SerializationError(where, "contains a NUL character, which PostgreSQL cannot store.")
        return value
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SerializationError(where, f"is {value!r}: JSON has no NaN or infinity.")
        return value
    if isinstance(value, (list, tuple)):
        return [_encode(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        encoded = {_key(key, where): _encode(item, f"{where}[{key!r}]") for key, item in value.items()}
        return {TAG: "dict", "v": encoded} if TAG in encoded else encoded
    # datetime is a subclass of date: test it first.
    if isinstance(value, datetime.datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, datetime.time):
        return {TAG: "time", "v": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise SerializationError(where, f"is {value!r}: only finite decimals can be stored.")
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {TAG: "uuid", "v": str(value)}
    if isinstance(value, models.Model):
        if value.pk is None or value._state.adding:
            raise SerializationError(
                where,
                f"is an unsaved {value._meta.label} instance: save it before enqueueing, "
                "the worker loads it again by primary key."
            )
        return {TAG: "model", "v": [value._meta.label_lower, _encode(value.pk, f"{where}.pk")]}
    raise SerializationError(
        where,
        f"has unsupported type {type(value).__module__}.{type(value).__qualname__}: "
        "use JSON types, datetime, date, time, timedelta, Decimal, UUID or a saved model instance."
    )


def _decode(value):
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {key: _decode(item) for key, item in value.items()}
    try:
        decoder = _DECODERS[tag]
    except KeyError:
        raise DeserializationError(f"Unknown argument tag {tag!r} in {value!r}.") from None
    try:
        return decoder(value["v"])
    except DeserializationError:
        raise
    except Exception as error:
        raise DeserializationError(f"Cannot decode {tag} argument {value['v']!r}: {error}") from error


def _decode_model(value):
    label, pk = value
    try:
        model = apps.get_model(label)
    except LookupError as error:
        raise DeserializationError(f"Model {label!r} of a task argument is not installed.") from error
    pk = _decode(pk)
    try:
        return model._default_manager.get(pk=pk)
    except model.DoesNotExist:
        raise DeserializationError(
            f"{model._meta.label} with primary key {pk!r} no longer exists (it was a task argument)."
        ) from None


_DECODERS = {
    "dict": lambda value: {key: _decode(item) for key, item in value.items()},
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "time": datetime.time.fromisoformat,
    "timedelta": lambda value: datetime.timedelta(days=value[0], seconds=value[1], microseconds=value[2]),
    "decimal": decimal.Decimal,
    "uuid": uuid.UUID,
    "model": _decode_model,
}
