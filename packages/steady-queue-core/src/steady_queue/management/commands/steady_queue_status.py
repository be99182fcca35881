import argparse
import json
import time

from django.core.management.base import BaseCommand

from steady_queue.console.terminal import as_json, render, snapshot

# ANSI: cursor home, then clear the screen, so that each refresh replaces the last one.
CLEAR = "\x1b[H\x1b[2J"


def seconds(value):
    """A --watch interval: a positive number of seconds."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {value!r}")
    return number


def how_many(value):
    """A --failures count: zero or more."""
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, not {value!r}")
    return int(value)


class Command(BaseCommand):
    help = (
        "Print the queue's state, as the console's overview shows it: each queue's size, latency (how long "
        "its oldest ready task has waited) and whether it is paused; the number of tasks in each state; "
        "the registered processes with their heartbeat (stale ones marked) and the tasks they run; the "
        "latest failures with their error."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--watch", nargs="?", const=2.0, default=None, type=seconds, metavar="SECONDS",
            help="Print again every SECONDS (2 when no number follows), in place on a terminal, until Ctrl-C.",
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_data",
            help="Print one JSON object instead of text (with --watch, one object a line): times in ISO 8601, "
            "latencies and heartbeat ages in seconds, counts with whether they stopped at the console's cap.",
        )
        parser.add_argument(
            "--failures", type=how_many, default=5, metavar="N",
            help="How many of the latest failed tasks to list (default 5; 0 lists none).",
        )

    def handle(self, *args, watch, as_data, failures, **options):
        if watch is None:
            self.show(as_data, failures, clear=False)
            return
        # A terminal is redrawn in place; a pipe or file gets one frame after the other.
        clear = not as_data and self.stdout.isatty()
        try:
            while True:
                self.show(as_data, failures, clear=clear)
                time.sleep(watch)
        except KeyboardInterrupt:
            # Ctrl-C is how watching ends: a clean exit, not a traceback.
            self.stdout.write("")

    def show(self, as_data, failures, clear):
        shot = snapshot(failures)
        if as_data:
            self.stdout.write(json.dumps(as_json(shot)))
        else:
            text = "\n".join(render(shot, failures))
            self.stdout.write((CLEAR if clear else "") + text + ("" if clear else "\n"))
        self.stdout.flush()
