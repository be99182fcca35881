"""The console's parts that need no database: masking, sparklines, durations, the setting."""

from datetime import timedelta

import pytest

from steady_queue.conf import parse
from steady_queue.console.masking import MASK, masked
from steady_queue.console.sparkline import sparkline
from steady_queue.templatetags.steady_queue_console import sq_duration


def test_masking_hides_matching_keys_at_any_depth_in_any_case():
    value = {"args": [{"Password": "a", "nested": {"api_token": "b"}}], "kwargs": {"user": "ada", "DB_SECRET": "c"}}
    assert masked(value, keys=("password", "token", "secret")) == {
        "args": [{"Password": MASK, "nested": {"api_token": MASK}}],
        "kwargs": {"user": "ada", "DB_SECRET": MASK},
    }


def test_masking_leaves_values_without_keys_alone():
    assert masked(["password", 1, None], keys=("password",)) == ["password", 1, None]


def test_the_masked_keys_setting_has_defaults_and_is_checked():
    assert "password" in parse({}).console.masked_argument_keys
    assert parse({"console": {"masked_argument_keys": ["PIN"]}}).console.masked_argument_keys == ("pin",)
    assert parse({"console": {"masked_argument_keys": "pin"}}).errors == (
        "STEADY_QUEUE['console']['masked_argument_keys'] must be a list of non-empty strings, not 'pin'.",
    )
    assert "unknown key 'mask'" in parse({"console": {"mask": []}}).errors[0]


def test_a_sparkline_scales_to_its_maximum():
    svg = sparkline([0, 5, 10], width=20, height=12, label="three minutes")
    assert 'points="0.0,11.0 10.0,6.0 20.0,1.0"' in svg and "<title>three minutes</title>" in svg


def test_a_sparkline_of_nothing_is_a_flat_line():
    assert 'points="0.0,11.0 20.0,11.0"' in sparkline([0, 0], width=20, height=12)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"), (42.9, "42 s"), (185, "3 min 5 s"), (7800, "2 h 10 min"),
        (timedelta(days=4, hours=3).total_seconds(), "4 d 3 h"),
    ],
)
def test_durations_read_in_their_two_largest_units(seconds, text):
    assert sq_duration(seconds) == text
