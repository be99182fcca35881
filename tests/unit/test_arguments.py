import datetime
import decimal
import json
import uuid

import pytest

from steady_queue.arguments import DeserializationError, SerializationError, deserialize, serialize
from tests.testapp.models import Author

UTC = datetime.UTC


def roundtrip(*args, **kwargs):
    encoded = serialize(args, kwargs)
    # What the database stores is text: go through JSON as the JSONField does.
    stored = json.loads(json.dumps(encoded))
    return deserialize(stored[0], stored[1])


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        1.5,
        "text",
        "",
        [1, [2, "three"]],
        {"nested": {"list": [1, 2]}},
        datetime.datetime(2026, 11, 25, 9, 30, 1, 123456, tzinfo=UTC),
        datetime.datetime(2026, 11, 25, 9, 30),
        datetime.datetime(2026, 3, 29, 1, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        datetime.date(2026, 2, 28),
        datetime.time(23, 59, 58, 1),
        datetime.timedelta(days=-1, seconds=5, microseconds=7),
        decimal.Decimal("12345678901234567890.000000001"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        {"__sq__": "datetime", "v": "not a tag, a user dict"},
        [{"__sq__": {"deep": datetime.date(2020, 1, 1)}}],
    ],
)
def test_values_roundtrip_exactly(value):
    args, kwargs = roundtrip(value, named=value)
    assert args == [value]
    assert kwargs == {"named": value}
    assert type(args[0]) is type(value)


def test_tuples_become_lists():
    assert roundtrip((1, (2, 3))) == ([[1, [2, 3]]], {})


def test_plain_json_is_stored_unchanged():
    assert serialize([1, "a", {"b": [None]}], {"c": 1.5}) == ([1, "a", {"b": [None]}], {"c": 1.5})


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (({1, 2},), {}, r"args\[0\] has unsupported type builtins.set"),
        ((), {"payload": b"raw"}, r"kwargs\['payload'\] has unsupported type builtins.bytes"),
        (([1, object()],), {}, r"args\[0\]\[1\] has unsupported type builtins.object"),
        (({1: "a"},), {}, r"args\[0\] has a key 1 of type int: dict keys must be strings"),
        ((), {"data": {"ok": {None: 1}}}, r"kwargs\['data'\]\['ok'\] has a key None"),
        ((float("nan"),), {}, r"args\[0\] is nan: JSON has no NaN or infinity"),
        ((), {"x": float("inf")}, r"kwargs\['x'\] is inf"),
        ((decimal.Decimal("NaN"),), {}, r"args\[0\] is Decimal\('NaN'\): only finite decimals"),
        ((Author(name="unsaved"),), {}, r"args\[0\] is an unsaved testapp.Author instance"),
        ((lambda: 1,), {}, r"args\[0\] has unsupported type builtins.function"),
        (("a\x00b",), {}, r"args\[0\] contains a NUL character"),
        (({"k\x00": 1},), {}, r"args\[0\] has a key with a NUL character"),
    ],
)
def test_unsupported_values_name_the_argument(args, kwargs, message):
    with pytest.raises(SerializationError, match=message):
        serialize(args, kwargs)


def test_serialization_error_is_a_type_error():
    # Callers that catch Django's own TypeError for unsupported arguments keep working.
    assert issubclass(SerializationError, TypeError)


def test_unknown_tag_is_a_deserialization_error():
    with pytest.raises(DeserializationError, match="Unknown argument tag 'pickle'"):
        deserialize([{"__sq__": "pickle", "v": "x"}], {})


def test_corrupted_tagged_value_is_a_deserialization_error():
    with pytest.raises(DeserializationError, match="Cannot decode datetime argument 'yesterday'"):
        deserialize([{"__sq__": "datetime", "v": "yesterday"}], {})


def test_model_of_an_uninstalled_app_is_a_deserialization_error():
    with pytest.raises(DeserializationError, match="Model 'gone.thing' of a task argument is not installed"):
        deserialize([{"__sq__": "model", "v": ["gone.thing", 1]}], {})
