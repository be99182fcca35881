"""The worker's thread pool: how long a line of claimed jobs it asks for."""

import threading
import time

from steady_queue.worker.pool import AUTO_LINE_MAX, Pool


def run_tasks(pool, count, seconds):
    done = threading.Semaphore(0)
    pool._perform = lambda job: (time.sleep(seconds), done.release())
    for i in range(count):
        pool.submit(i)
    for _ in range(count):
        assert done.acquire(timeout=10)
    pool.wait_until_idle(5)


def test_a_fixed_prefetch_is_the_line():
    pool = Pool(3, perform=lambda job: None, on_idle=lambda: None, prefetch=7)
    assert pool.capacity == 10
    pool.stop()


def test_auto_starts_with_a_job_in_line_per_thread():
    pool = Pool(3, perform=lambda job: None, on_idle=lambda: None, prefetch="auto")
    assert pool.line == 3 and pool.capacity == 6
    pool.stop()


def test_auto_lines_up_many_short_tasks():
    pool = Pool(3, perform=None, on_idle=lambda: None, prefetch="auto")
    run_tasks(pool, 30, 0)
    assert pool.line == AUTO_LINE_MAX
    pool.stop()


def test_auto_holds_back_slow_tasks_for_other_workers():
    # 3 threads on 0.7 s tasks start no other task within the horizon: nothing waits in line.
    pool = Pool(3, perform=None, on_idle=lambda: None, prefetch="auto")
    run_tasks(pool, 3, 0.7)
    assert pool.line == 0 and pool.capacity == 3
    pool.stop()


def test_the_line_is_refilled_at_half_its_length():
    pool = Pool(2, perform=lambda job: None, on_idle=lambda: None, prefetch=10)
    with pool._lock:
        pool._outstanding = 8  # 2 running, 6 in line
    assert not pool.wants_more
    with pool._lock:
        pool._outstanding = 7  # 5 in line: half of 10
    assert pool.wants_more
    pool.stop()
