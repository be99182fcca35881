"""Steady Queue: a database-backed backend for Django's ``django.tasks``."""

# The worker and cron distributions add ``steady_queue.worker`` and ``steady_queue.cron`` from their
# own directories; extend_path lets one import package span them, installed or editable.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__version__ = "0.1.0"

# Settings also readable as module-level names (steady_queue.shutdown_timeout, ...). They are read
# from settings.STEADY_QUEUE on every access, so override_settings() and late configuration are honoured.
_SETTING_NAMES = frozenset(
    {
        "default_concurrency_control_period",
        "process_heartbeat_interval",
        "process_alive_threshold",
        "shutdown_timeout",
        "preserve_finished_jobs",
        "clear_finished_jobs_after",
    }
)


def __getattr__(name):
    if name in _SETTING_NAMES:
        from steady_queue.conf import get_config

        return getattr(get_config(), name)
    raise AttributeError(f"module 'steady_queue' has no attribute {name!r}")
