"""The supervisor: forks the configured processes, replaces those that die, prunes dead ones."""

import logging
import os
import signal
import socket
import time
from dataclasses import dataclass, field

from django.db import DatabaseError, connections

from steady_queue.conf import get_config
from steady_queue.exceptions import ProcessExitError
from steady_queue.models import ClaimedExecution, Process
from steady_queue.models.claimed_execution import recover_claims, release_claims
from steady_queue.models.process import fail_orphaned_claims, prune

from .interruptible import Interruptible
from .process import EXIT_RELEASE_CLAIMS, prepare_runtime_connections
from .registrable import Registrable

logger = logging.getLogger("steady_queue.supervisor")

# How long children get beyond their own shutdown timeout before they are killed.
SHUTDOWN_GRACE = 5.0
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD)


@dataclass
class ProcessSpec:
    """What to fork: a RuntimeProcess class and the arguments to build it with."""

    process_class: type
    kwargs: dict = field(default_factory=dict)

    @property
    def kind(self):
        return self.process_class.kind


class Supervisor(Registrable, Interruptible):
    """Forks the configured processes and keeps them running; prunes processes that died elsewhere.

    It stays single-threaded (no heartbeat thread): forking a process that runs other threads could
    hand a child a lock held by one of them, or a database connection in use.
    """

    kind = "supervisor"

    def __init__(self, specs):
        Registrable.__init__(self)
        self.specs = specs
        self.config = get_config()
        self.children = {}  # pid -> ProcessSpec
        self.signals = []
        self.stopping = False
        self.stop_mode = None
        self._database_trouble = False
        self._prune_after = 0.0

    def run(self):
        """Supervise until a signal says stop; return the exit status."""
        Interruptible.__init__(self)
        # Before the first connection, which register() opens.
        prepare_runtime_connections()
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, self._on_signal)
        self.register()
        logger.info("Started supervisor %s (pid %s) with %d process(es)", self.name, os.getpid(), len(self.specs))
        self._maintain()
        for spec in self.specs:
            self._fork(spec)
        next_maintenance = time.monotonic() + self._maintenance_interval
        while not self.stopping:
            self.sleep(1.0)
            self._handle_signals()
            if self.stopping:
                break
            self._reap_and_replace()
            if time.monotonic() >= next_maintenance:
                healthy = self._heartbeat_and_maintain()
                next_maintenance = time.monotonic() + (self._maintenance_interval if healthy else 1.0)
        return self._shutdown()

    @property
    def _maintenance_interval(self):
        return self.config.process_heartbeat_interval.total_seconds()

    def _maintain(self):
        if time.monotonic() < self._prune_after:
            # Right after our own database outage, others' heartbeats may simply not have got
            # through yet: give them one alive threshold before declaring anyone dead.
            return
        try:
            prune(self.config.process_alive_threshold)
            fail_orphaned_claims()
        except DatabaseError as error:
            logger.warning("Supervisor %s could not prune dead processes: %s", self.name, error)
            connections.close_all()

    def _heartbeat(self):
        """Send the heartbeat; True if sent."""
        if not self.heartbeat():
            self._database_trouble = True
            return False
        if self._database_trouble:
            self._database_trouble = False
            self._prune_after = time.monotonic() + self.config.process_alive_threshold.total_seconds()
        return True

    def on_pruned(self):
        if not self.stopping:
            logger.warning("Supervisor %s was pruned as dead by another supervisor, stopping", self.name)
            self.stopping, self.stop_mode = True, signal.SIGTERM

    def _heartbeat_and_maintain(self):
        if not self._heartbeat():
            return False
        if not self.stopping:
            self._maintain()
        return True

    def _fork(self, spec):
        # Children must not share the supervisor's database connections (nor a connection pool).
        for connection in connections.all(initialized_only=True):
            if hasattr(connection, "close_pool"):
                connection.close_pool()
        connections.close_all()
        # Signals stay blocked across the fork, so that the child never runs the supervisor's
        # handlers before installing its own.
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._run_child(spec)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)
        self.children[pid] = spec

    def _run_child(self, spec):
        """In the forked child: run the process and exit, never returning to supervisor code."""
        status = 1
        try:
            # A process group of its own, joined before any signal can get through: a terminal's
            # Ctrl-C (SIGINT to the whole foreground group) then reaches the supervisor alone, which
            # stops each child with one SIGTERM. Nor does it reach the programs a task starts.
            os.setpgid(0, 0)
            # Out of the foreground group, a write to the terminal would stop the child if the
            # terminal has "stty tostop" set; with SIGTTOU ignored it writes as before.
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            for signum in HANDLED_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)
            self.close_wake_ups()
            process = spec.process_class(
                supervisor_id=self.process.pk, supervisor_pid=os.getppid(), **spec.kwargs
            )
            status = process.run()
        except BaseException:
            logger.exception("%s process crashed", spec.kind)
        finally:
            logging.shutdown()
            os._exit(status)

    def _on_signal(self, signum, frame):
        self.signals.append(signum)
        self.wake_up()

    def _handle_signals(self):
        while self.signals:
            signum = self.signals.pop(0)
            if signum not in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                continue
            if self.stopping and signum != signal.SIGQUIT:
                # A second TERM or INT (Ctrl-C twice) while stopping: stop at once.
                signum = signal.SIGQUIT
            logger.info("Supervisor %s received %s, stopping", self.name, signal.Signals(signum).name)
            self.stopping, self.stop_mode = True, signum

    def _reap_and_replace(self):
        for pid, status in self._reap():
            spec = self.children.pop(pid, None)
            if spec is None:
                continue
            self._recover(pid, spec, status)
            logger.info("Replacing %s (pid %s, %s)", spec.kind, pid, _describe(status))
            self._fork(spec)

    def _reap(self):
        reaped = []
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reaped.append((pid, status))
        return reaped

    def _recover(self, pid, spec, status, *, release=None):
        """Deal with the row and claims a child left behind (none if it stopped gracefully).

        A child that stopped gracefully with tasks past the shutdown timeout asks for them to go
        back to their queue (now that it can no longer run them); any other unexpected exit fails them.
        """
        if release is None:
            release = os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_RELEASE_CLAIMS
        try:
            left = Process.objects.filter(supervisor_id=self.process.pk, pid=pid, hostname=socket.gethostname())
            for row in left:
                claims = ClaimedExecution.objects.filter(process_id=row.pk)
                if release:
                    released = release_claims(claims)
                    logger.info("%d unfinished task(s) of %s %s back in their queue", released, spec.kind, row.name)
                else:
                    # The child was reaped: it is certainly gone, so its concurrency slots can be reused.
                    recovered = recover_claims(
                        claims,
                        ProcessExitError(spec.kind, row.name, pid, _describe(status)),
                        release_slots=True,
                    )
                    if recovered.failed or recovered.released:
                        logger.error(
                            "%s %s (pid %s) %s; %d started task(s) marked failed, %d unstarted back in their queue",
                            spec.kind, row.name, pid, _describe(status), len(recovered.failed),
                            len(recovered.released),
                        )
                row.delete()
        except DatabaseError as error:
            logger.warning("Supervisor %s could not clean up after pid %s: %s", self.name, pid, error)
            connections.close_all()

    def _shutdown(self):
        if self.stop_mode != signal.SIGQUIT:
            self._stop_children_gracefully()
        if self.stop_mode == signal.SIGQUIT:
            # No cleanup: the rows and claims left behind are recovered by pruning.
            for pid in list(self.children):
                _send(pid, signal.SIGQUIT)
        else:
            try:
                self.deregister()
            except DatabaseError as error:
                logger.warning("Supervisor %s could not deregister: %s", self.name, error)
        logger.info("Stopped supervisor %s", self.name)
        return 0

    def _stop_children_gracefully(self):
        for pid in list(self.children):
            _send(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.config.shutdown_timeout.total_seconds() + SHUTDOWN_GRACE
        next_heartbeat = time.monotonic() + self._maintenance_interval
        while self.children and time.monotonic() < deadline:
            self.sleep(0.1)
            self._handle_signals()
            if self.stop_mode == signal.SIGQUIT:
                return
            for pid, status in self._reap():
                if (spec := self.children.pop(pid, None)) is not None:
                    self._recover(pid, spec, status)
            if time.monotonic() >= next_heartbeat:
                next_heartbeat = time.monotonic() + self._maintenance_interval
                self._heartbeat()
        for pid, spec in list(self.children.items()):
            logger.warning("%s (pid %s) did not stop in time, killing it", spec.kind, pid)
            _send(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            self.children.pop(pid)
            # The graceful stop promised to put unfinished work back: do it for a stuck child too.
            self._recover(pid, spec, status, release=True)


def _send(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _describe(status):
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
