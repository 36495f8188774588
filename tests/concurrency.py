"""Racing real threads against real PostgreSQL: the concurrency tests' one harness."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def race(count: int, job: Callable[[int], Any]) -> list[Any]:
    """Run `job(0) … job(count - 1)` in as many threads released together; their results in
    index order. Each thread closes its own database connection when done."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = job(index)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
