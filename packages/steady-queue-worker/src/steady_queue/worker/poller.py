"""A runtime process whose life is a loop: do a round of work, then sleep until the next or a wake-up."""

import logging

from django.db import DatabaseError

from steady_queue.retrying import close_thread_connections

from .process import RuntimeProcess

logger = logging.getLogger("steady_queue.processes")


class Poller(RuntimeProcess):
    polling_interval = 1.0

    def main_loop(self):
        self.prepare()
        while not self.stopping.is_set():
            try:
                wait = self.poll()
            except DatabaseError as error:
                # The database is down or restarting: reconnect on the next round, a moment later.
                logger.warning("%s %s: database error: %s", self.kind, self.name, error)
                close_thread_connections()
                wait = max(1.0, self.polling_interval)
            if wait > 0:
                self.sleep(wait)

    def prepare(self):
        """Set up what the rounds need (threads, watchers), once the process is registered."""

    def poll(self):
        """Do one round of work; return how long to sleep before the next (0: go again at once)."""
        raise NotImplementedError
