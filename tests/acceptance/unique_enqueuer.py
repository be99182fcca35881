"""One process of the unique-key race: enqueue the same unique call many times, report the ids returned.

    python tests/acceptance/unique_enqueuer.py <go-file> <count> <single|many>

Run with STEADY_QUEUE_TEST_SUBPROCESS=1 (the test database). Waits until ``go-file`` exists, so that
all processes start together, then enqueues ``refresh(1)`` ``count`` times: one call at a time
(``single``), or in batches of ten calls of the key (``many``). Prints one JSON object: how many
times each result id was returned, the ids in the order they were returned (each once, where it
first appeared in a run), and how long the calls took.
"""

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main():
    import django

    django.setup()
    from steady_queue.models import UniqueKey
    from tests.testapp.unique_tasks import refresh

    go, count, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    UniqueKey.objects.exists()  # connect before the start; the key's row is not there yet
    while not go.exists():
        time.sleep(0.001)
    ids, runs = Counter(), []
    started = time.perf_counter()
    for _ in range(count if mode == "single" else count // 10):
        results = [refresh.enqueue(1)] if mode == "single" else refresh.enqueue_many([(1,)] * 10)
        for result in results:
            ids[result.id] += 1
            if not runs or runs[-1] != result.id:
                runs.append(result.id)
    print(json.dumps({"ids": ids, "runs": runs, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
