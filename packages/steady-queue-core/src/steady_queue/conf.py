"""The STEADY_QUEUE setting: documented defaults, validation and the parsed configuration.

Every key is optional. Durations accept a number of seconds or a ``timedelta``. Validation collects
every problem at once so that ``manage.py check`` can report them together; the runtime refuses to
start on the same errors.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from steady_queue import queue_patterns

WORKER_DEFAULTS = {
    "queues": ["*"],
    # A thread waits for one durable commit (its next task's start marker) between two tasks, and
    # the threads of a worker share that commit: 8 keep short tasks flowing at two processes
    # (docs/benchmarks.rst) and serve I/O-bound tasks; each holds at most one database connection.
    "threads": 8,
    # "auto": claim ahead what the threads will start within the next moments (see the worker's Pool).
    "prefetch": "auto",
    "processes": 1,
    "polling_interval": timedelta(seconds=0.1),
}

DISPATCHER_DEFAULTS = {
    "batch_size": 500,
    "polling_interval": timedelta(seconds=1),
    "concurrency_maintenance": True,
    "concurrency_maintenance_interval": timedelta(minutes=10),
}

DEFAULTS = {
    "workers": [{}],
    "dispatchers": [{}],
    "process_heartbeat_interval": timedelta(seconds=60),
    "process_alive_threshold": timedelta(minutes=5),
    "shutdown_timeout": timedelta(seconds=5),
    "preserve_finished_jobs": True,
    "clear_finished_jobs_after": timedelta(days=1),
    "default_concurrency_control_period": timedelta(minutes=3),
    # A DATABASES alias connecting to PostgreSQL directly, for the workers' LISTEN when the queue
    # database goes through a pooler in transaction mode; None: the queue database itself.
    "listener_database": None,
    "max_attempts": 1,
    "timeout": None,
    "recurring_tasks": {},
    # The alias in settings.DATABASES holding the queue's tables (Solid Queue's connects_to).
    "database": "default",
    # False runs every hot path through the ORM instead of the database's own SQL (steady_queue.sql):
    # slower, for ruling the per-database SQL out when chasing a problem.
    "sql_fast_paths": True,
    # PostgreSQL: prepare the hot statements (claim, finish) once per connection instead of planning
    # them on every call. False behind a transaction-pooling PgBouncer older than 1.21.
    "prepared_statements": True,
    # The operator console (steady_queue.console); see CONSOLE_DEFAULTS.
    "console": {},
}

CONSOLE_DEFAULTS = {
    # Argument (and return value) keys whose values the console shows as "********": a key is masked
    # when it contains one of these, in any case ("password" masks "db_password", "Password").
    "masked_argument_keys": [
        "password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "credential",
        "private_key", "card_number", "cvv", "ssn",
    ],
    # The bearer token a Prometheus scraper sends to steady_queue.console.metrics (scrapers cannot log
    # in); None: only logged-in staff with the view permission get the metrics.
    "metrics_token": None,
}

# A token shorter than this is guessable enough to be refused.
METRICS_TOKEN_MIN_LENGTH = 16

RECURRING_TASK_KEYS = {"task", "schedule", "args", "kwargs", "queue_name", "priority", "description"}


@dataclass(frozen=True)
class WorkerConfig:
    queues: tuple[str, ...]
    threads: int
    prefetch: int | str
    processes: int
    polling_interval: timedelta


@dataclass(frozen=True)
class DispatcherConfig:
    batch_size: int
    polling_interval: timedelta
    concurrency_maintenance: bool
    concurrency_maintenance_interval: timedelta


@dataclass(frozen=True)
class ConsoleConfig:
    masked_argument_keys: tuple[str, ...] = tuple(CONSOLE_DEFAULTS["masked_argument_keys"])
    metrics_token: str | None = None


@dataclass(frozen=True)
class Config:
    workers: tuple[WorkerConfig, ...]
    dispatchers: tuple[DispatcherConfig, ...]
    process_heartbeat_interval: timedelta
    process_alive_threshold: timedelta
    shutdown_timeout: timedelta
    preserve_finished_jobs: bool
    clear_finished_jobs_after: timedelta
    default_concurrency_control_period: timedelta
    listener_database: str | None = None
    max_attempts: int = 1
    timeout: timedelta | None = None
    recurring_tasks: dict = field(default_factory=dict)
    database: str = "default"
    sql_fast_paths: bool = True
    prepared_statements: bool = True
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    errors: tuple[str, ...] = field(default=(), compare=False)


class _Problems(list):
    """Collects validation messages, each prefixed with where the value sits in STEADY_QUEUE."""

    def duration(self, where, value, *, allow_zero=False):
        if isinstance(value, timedelta):
            seconds = value.total_seconds()
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = value
        else:
            self.append(f"{where} must be a number of seconds or a timedelta, not {value!r}.")
            return None
        if seconds < 0 or (seconds == 0 and not allow_zero):
            self.append(f"{where} must be {'zero or ' if allow_zero else ''}positive, not {value!r}.")
            return None
        return timedelta(seconds=seconds)

    def integer(self, where, value, *, minimum):
        if isinstance(value, bool) or not isinstance(value, int):
            self.append(f"{where} must be an integer, not {value!r}.")
            return None
        if value < minimum:
            self.append(f"{where} must be at least {minimum}, not {value!r}.")
            return None
        return value

    def integer_or_auto(self, where, value, *, minimum):
        if value == "auto":
            return value
        if isinstance(value, str):
            self.append(f"{where} must be \"auto\" or an integer, not {value!r}.")
            return None
        return self.integer(where, value, minimum=minimum)

    def boolean(self, where, value):
        if not isinstance(value, bool):
            self.append(f"{where} must be True or False, not {value!r}.")
            return None
        return value

    def queues(self, where, value):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            self.append(f"{where} must be a non-empty list of queue names, not {value!r}.")
            return None
        for name in value:
            problem = queue_patterns.problem(name)
            if problem:
                self.append(f"{where}: {problem}")
                return None
        return tuple(value)

    def unknown_keys(self, where, mapping, known):
        for key in mapping:
            if key not in known:
                self.append(f"{where} has an unknown key {key!r} (known: {', '.join(sorted(known))}).")


def _entries(problems, where, value):
    if not isinstance(value, (list, tuple)):
        problems.append(f"{where} must be a list of dicts, not {value!r}.")
        return []
    good = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            problems.append(f"{where}[{index}] must be a dict, not {entry!r}.")
        else:
            good.append((f"{where}[{index}]", entry))
    return good


def _worker(problems, where, entry):
    problems.unknown_keys(where, entry, WORKER_DEFAULTS)
    values = {**WORKER_DEFAULTS, **entry}
    return WorkerConfig(
        queues=problems.queues(f"{where}['queues']", values["queues"]),
        threads=problems.integer(f"{where}['threads']", values["threads"], minimum=1),
        prefetch=problems.integer_or_auto(f"{where}['prefetch']", values["prefetch"], minimum=0),
        processes=problems.integer(f"{where}['processes']", values["processes"], minimum=1),
        polling_interval=problems.duration(f"{where}['polling_interval']", values["polling_interval"]),
    )


def _dispatcher(problems, where, entry):
    problems.unknown_keys(where, entry, DISPATCHER_DEFAULTS)
    values = {**DISPATCHER_DEFAULTS, **entry}
    return DispatcherConfig(
        batch_size=problems.integer(f"{where}['batch_size']", values["batch_size"], minimum=1),
        polling_interval=problems.duration(f"{where}['polling_interval']", values["polling_interval"]),
        concurrency_maintenance=problems.boolean(
            f"{where}['concurrency_maintenance']", values["concurrency_maintenance"]
        ),
        concurrency_maintenance_interval=problems.duration(
            f"{where}['concurrency_maintenance_interval']", values["concurrency_maintenance_interval"]
        ),
    )


def _database(problems, where, value):
    """An alias of settings.DATABASES: a typo would otherwise surface only at the first query."""
    if not isinstance(value, str) or value not in settings.DATABASES:
        known = ", ".join(repr(alias) for alias in settings.DATABASES)
        problems.append(f"{where} must be an alias in settings.DATABASES ({known}), not {value!r}.")
        return None
    return value


def _listener_database(problems, where, value, queue_alias):
    """None, or an alias of a PostgreSQL database: LISTEN/NOTIFY exists on PostgreSQL only."""
    from django.db import connections

    if value is None:
        return None
    if not isinstance(value, str) or value not in settings.DATABASES:
        known = ", ".join(repr(alias) for alias in settings.DATABASES)
        problems.append(f"{where} must be None or an alias in settings.DATABASES ({known}), not {value!r}.")
        return None
    for alias in (value, queue_alias):
        if isinstance(alias, str) and alias in settings.DATABASES and connections[alias].vendor != "postgresql":
            problems.append(
                f"{where} is for PostgreSQL's LISTEN/NOTIFY, but the database {alias!r} is "
                f"{connections[alias].display_name}; remove the setting."
            )
            return None
    return value


def _console(problems, where, value):
    if not isinstance(value, dict):
        problems.append(f"{where} must be a dict, not {value!r}.")
        return ConsoleConfig()
    problems.unknown_keys(where, value, CONSOLE_DEFAULTS)
    values = {**CONSOLE_DEFAULTS, **value}
    keys, token = values["masked_argument_keys"], values["metrics_token"]
    if not isinstance(keys, (list, tuple)) or not all(isinstance(key, str) and key for key in keys):
        problems.append(f"{where}['masked_argument_keys'] must be a list of non-empty strings, not {keys!r}.")
        return ConsoleConfig()
    if token is not None and (not isinstance(token, str) or len(token) < METRICS_TOKEN_MIN_LENGTH):
        # The value itself stays out of the message: it is a secret, and messages end up in logs.
        problems.append(
            f"{where}['metrics_token'] must be None or a string of at least {METRICS_TOKEN_MIN_LENGTH} "
            f"characters, not a {type(token).__name__}" + (f" of {len(token)}." if isinstance(token, str) else ".")
        )
        return ConsoleConfig()
    return ConsoleConfig(masked_argument_keys=tuple(key.lower() for key in keys), metrics_token=token)


def _recurring_tasks(problems, where, value):
    """Only the shape here; steady_queue.recurring_task checks schedules, tasks and arguments."""
    if not isinstance(value, dict):
        problems.append(f"{where} must be a dict of key -> options, not {value!r}.")
        return {}
    good = {}
    for key, options in value.items():
        if not isinstance(options, dict):
            problems.append(f"{where}[{key!r}] must be a dict, not {options!r}.")
            continue
        problems.unknown_keys(f"{where}[{key!r}]", options, RECURRING_TASK_KEYS)
        for required in ("task", "schedule"):
            if not isinstance(options.get(required), str):
                problems.append(f"{where}[{key!r}] needs {required!r} as a string.")
        good[key] = options
    return good


def parse(raw):
    """Build a Config from a STEADY_QUEUE dict; problems are listed in Config.errors."""
    problems = _Problems()
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"STEADY_QUEUE must be a dict, not {type(raw).__name__}.")
        raw = {}
    problems.unknown_keys("STEADY_QUEUE", raw, DEFAULTS)
    values = {**DEFAULTS, **raw}
    where = "STEADY_QUEUE[{!r}]".format
    config = Config(
        workers=tuple(_worker(problems, w, e) for w, e in _entries(problems, where("workers"), values["workers"])),
        dispatchers=tuple(
            _dispatcher(problems, w, e) for w, e in _entries(problems, where("dispatchers"), values["dispatchers"])
        ),
        process_heartbeat_interval=problems.duration(
            where("process_heartbeat_interval"), values["process_heartbeat_interval"]
        ),
        process_alive_threshold=problems.duration(where("process_alive_threshold"), values["process_alive_threshold"]),
        shutdown_timeout=problems.duration(where("shutdown_timeout"), values["shutdown_timeout"], allow_zero=True),
        preserve_finished_jobs=problems.boolean(where("preserve_finished_jobs"), values["preserve_finished_jobs"]),
        clear_finished_jobs_after=problems.duration(
            where("clear_finished_jobs_after"), values["clear_finished_jobs_after"]
        ),
        default_concurrency_control_period=problems.duration(
            where("default_concurrency_control_period"), values["default_concurrency_control_period"]
        ),
        listener_database=_listener_database(
            problems, where("listener_database"), values["listener_database"], values.get("database", "default")
        ),
        max_attempts=problems.integer(where("max_attempts"), values["max_attempts"], minimum=1),
        timeout=None if values["timeout"] is None else problems.duration(where("timeout"), values["timeout"]),
        recurring_tasks=_recurring_tasks(problems, where("recurring_tasks"), values["recurring_tasks"]),
        database=_database(problems, where("database"), values["database"]),
        sql_fast_paths=problems.boolean(where("sql_fast_paths"), values["sql_fast_paths"]),
        prepared_statements=problems.boolean(where("prepared_statements"), values["prepared_statements"]),
        console=_console(problems, where("console"), values["console"]),
    )
    heartbeat, threshold = config.process_heartbeat_interval, config.process_alive_threshold
    if heartbeat is not None and threshold is not None and threshold <= heartbeat:
        problems.append(
            "STEADY_QUEUE['process_alive_threshold'] must be longer than 'process_heartbeat_interval', "
            "or live processes would be pruned between two heartbeats."
        )
    return Config(**{**config.__dict__, "errors": tuple(problems)})


@cache
def get_config():
    """The parsed settings.STEADY_QUEUE; raise ImproperlyConfigured if it is invalid."""
    config = parse(getattr(settings, "STEADY_QUEUE", None))
    if config.errors:
        raise ImproperlyConfigured("Invalid STEADY_QUEUE setting:\n- " + "\n- ".join(config.errors))
    return config


@receiver(setting_changed)
def _reset_config(*, setting, **kwargs):
    if setting == "STEADY_QUEUE":
        get_config.cache_clear()
