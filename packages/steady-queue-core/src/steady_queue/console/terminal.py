"""The console's overview as text or JSON, for ``manage.py steady_queue_status``.

A ``Snapshot`` gathers what the overview and workers pages show (counts per state, queues,
processes and the tasks they run, recent failures) from ``steady_queue.console.stats``, with the
same fixed number of queries; ``render`` lays it out in plain columns and ``as_json`` as data.
"""

from dataclasses import asdict, dataclass
from datetime import datetime

from django.utils import timezone

from . import stats
from .statuses import STATUSES

# Tasks a process runs, listed under the workers' table; the rest are counted.
RUNNING_SHOWN = 5


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    counts: dict
    queues: list
    processes: list
    failures: list


def snapshot(failures=5):
    """Everything the status command prints, read now."""
    now = timezone.now()
    return Snapshot(
        taken_at=now,
        counts=stats.status_counts(),
        queues=stats.queues(now),
        processes=stats.processes(now),
        failures=stats.recent_failures(failures) if failures else [],
    )


def as_json(shot):
    """The snapshot as JSON-ready data: times in ISO 8601, durations in seconds."""
    return _plain(
        {
            "taken_at": shot.taken_at,
            "counts": {slug: {"count": tally.count, "capped": tally.capped} for slug, tally in shot.counts.items()},
            "queues": [asdict(queue) for queue in shot.queues],
            "processes": [asdict(process) for process in shot.processes],
            "failures": [asdict(failure) for failure in shot.failures],
        }
    )


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def render(shot, limit=None):
    """The snapshot as lines of text; ``limit`` says how many failures were asked for (for the heading)."""
    lines = [f"Steady Queue at {clock(shot.taken_at)}", ""]
    counts = [f"{shot.counts[slug]} {status.label.lower()}" for slug, status in STATUSES.items()]
    lines.append("Tasks: " + ", ".join(counts))
    lines += ["", "Queues"]
    lines += columns(
        ["QUEUE", "SIZE", "LATENCY", "PAUSED"],
        [
            [q.name, f"{q.size:,}", duration(q.latency) if q.size else "-", "paused" if q.paused else ""]
            for q in shot.queues
        ],
        right={1, 2},
        empty="No queue has tasks, is configured or is paused.",
    )
    lines += ["", "Processes"]
    lines += columns(
        ["NAME", "KIND", "HOST", "PID", "HEARTBEAT", "", "RUNNING"],
        [
            [p.name, p.kind, p.hostname, str(p.pid), f"{duration(p.heartbeat_age)} ago", "STALE" if p.stale else "",
             str(len(p.jobs))]
            for p in shot.processes
        ],
        right={3, 4, 6},
        empty="No process is registered: is a worker running (manage.py steady_queue)?",
    )
    for process in shot.processes:
        for job in process.jobs[:RUNNING_SHOWN]:
            since = clock(job.claimed_at)
            lines.append(f"  {process.name} runs #{job.pk} {job.task_path} ({job.queue_name}, since {since})")
        if len(process.jobs) > RUNNING_SHOWN:
            lines.append(f"  {process.name} runs {len(process.jobs) - RUNNING_SHOWN} more")
    if limit != 0:
        lines += ["", f"Recent failures (the last {limit})" if limit else "Recent failures"]
        lines += columns(
            ["TASK", "FAILED AT", "PATH", "ERROR"],
            [
                [f"#{f.pk}", clock(f.failed_at), f.task_path, f"{short_class(f.error_class)}: {one_line(f.message)}"]
                for f in shot.failures
            ],
            empty="No failed task.",
        )
    return lines


def columns(headers, rows, right=(), empty=""):
    """Rows aligned under their headers, numbers (the ``right`` columns) to the right."""
    if not rows:
        return [f"  {empty}"]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells):
        pairs = enumerate(zip(cells, widths, strict=True))
        padded = [cell.rjust(width) if i in right else cell.ljust(width) for i, (cell, width) in pairs]
        return "  " + "  ".join(padded).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def clock(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def duration(seconds):
    """``42s``, ``3m 05s``, ``2h 10m``, ``4d 03h``: two units at most, enough to read a latency."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def short_class(path):
    """``ValueError`` for ``builtins.ValueError``: the module is on the task's page."""
    return path.rsplit(".", 1)[-1]


def one_line(text, width=120):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
