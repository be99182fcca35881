"""Sleeping that anything can cut short: another thread, a signal handler, a database notification.

A pipe to itself: wake_up() writes a byte, sleep() waits for one. Unlike a threading.Event, a pipe
may be written from a signal handler and wakes a select() at once, which is what the supervisor
needs; every process kind sleeps the same way.
"""

import os
import select


class Interruptible:
    def __init__(self):
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)

    def wake_up(self):
        """End the current (or the next) sleep() now."""
        try:
            os.write(self._wake_write, b"\0")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already

    def sleep(self, seconds):
        """Sleep until the time is up or wake_up() is called."""
        readable, _, _ = select.select([self._wake_read], [], [], max(0.0, seconds))
        if readable:
            try:
                while os.read(self._wake_read, 1024):
                    pass
            except BlockingIOError:
                pass

    def close_wake_ups(self):
        """Close the pipe (a forked child closes its parent's)."""
        os.close(self._wake_read)
        os.close(self._wake_write)
