"""steady_queue.I001: the suggestion of WAL and IMMEDIATE transactions for a SQLite queue database."""

import pytest

from steady_queue.checks import sqlite_infos

RECOMMENDED = {"init_command": "PRAGMA journal_mode=WAL", "transaction_mode": "IMMEDIATE"}


def test_django_default_sqlite_settings_get_the_suggestion_with_the_options_to_set():
    (info,) = sqlite_infos("default", "sqlite", {})
    assert info.id == "steady_queue.I001"
    assert info.level == 20  # checks.INFO: never fails a command
    assert "'default' is SQLite without WAL and transaction_mode IMMEDIATE" in info.msg
    assert f"DATABASES['default']['OPTIONS'] = {RECOMMENDED!r}" in info.hint
    assert "SILENCED_SYSTEM_CHECKS" in info.hint


def test_wal_and_immediate_transactions_are_silent():
    assert sqlite_infos("default", "sqlite", RECOMMENDED) == []


@pytest.mark.parametrize(
    "init_command",
    [
        "pragma journal_mode = wal",
        "PRAGMA main.journal_mode='WAL'",
        "PRAGMA journal_mode(WAL)",
        "PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    ],
)
def test_wal_is_recognised_however_the_pragma_is_written(init_command):
    assert sqlite_infos("default", "sqlite", {"init_command": init_command, "transaction_mode": "immediate"}) == []


def test_exclusive_transactions_take_the_write_lock_up_front_too():
    assert sqlite_infos("default", "sqlite", {**RECOMMENDED, "transaction_mode": "EXCLUSIVE"}) == []


def test_wal_without_immediate_transactions_names_only_the_missing_option():
    (info,) = sqlite_infos("queue", "sqlite", {"init_command": "PRAGMA journal_mode=WAL", "timeout": 20})
    assert "'queue' is SQLite without transaction_mode IMMEDIATE." in info.msg
    suggested = {"init_command": "PRAGMA journal_mode=WAL", "timeout": 20, "transaction_mode": "IMMEDIATE"}
    assert f"DATABASES['queue']['OPTIONS'] = {suggested!r}" in info.hint


def test_an_init_command_of_your_own_is_kept_in_the_suggestion():
    options = {"init_command": "PRAGMA foreign_keys=ON;", "transaction_mode": "IMMEDIATE"}
    (info,) = sqlite_infos("default", "sqlite", options)
    assert "without WAL." in info.msg
    assert "'init_command': 'PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL'" in info.hint


def test_other_journal_modes_are_not_wal():
    options = {"init_command": "PRAGMA journal_mode=DELETE; SELECT 'wal'", "transaction_mode": "IMMEDIATE"}
    assert [info.id for info in sqlite_infos("default", "sqlite", options)] == ["steady_queue.I001"]


@pytest.mark.parametrize("vendor", ["postgresql", "mysql"])
def test_other_databases_are_silent(vendor):
    assert sqlite_infos("default", vendor, {}) == []
