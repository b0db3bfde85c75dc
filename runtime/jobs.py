"""Enqueue an rq job now or after a delay, where a job id already queued is not an error.

The hop's effects, SMS deliveries and payment jobs all enqueue this way: a retried hop, a
double tap or a sweeper's second look asks again for work that is already waiting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rq import Queue
from rq.exceptions import DuplicateJobError


def enqueue_once(
    queue: Queue, func: str, *args: Any, delay_seconds: float = 0, **options: Any
) -> bool:
    """Enqueue `func(*args)` with rq `options`; False when its unique job id is already queued."""
    try:
        if delay_seconds > 0:
            queue.enqueue_in(timedelta(seconds=delay_seconds), func, *args, **options)
        else:
            queue.enqueue(func, *args, **options)
    except DuplicateJobError:
        return False
    return True
