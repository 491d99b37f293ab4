"""Where the playground trains: a few threads of its own, shared fairly between sessions.

Training, frames and GIFs used to run on Starlette's thread pool, the one that also
serves plain requests: with many tabs playing big networks every worker was busy
training (or waiting on a session's lock) and ``/api/options`` took seconds. Here that
work runs on ``WORKERS`` threads of its own (the request pool stays free for requests), and the threads take sessions in turn: each session has at most one job
running and at most ``QUEUED`` waiting; the next job comes from the session served
longest ago (round robin), so one session's backlog never holds the others back. A session
with ``QUEUED`` jobs waiting is refused (429, one line) rather than queued further.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import OrderedDict, deque
from concurrent.futures import Future

from torchclf.errors import UserError

# a core left for the event loop and the request pool where there are more than 3;
# at least 2, so a light tab's step never waits behind a heavy tab's whole tick
WORKERS = max(2, min(4, (os.cpu_count() or 2) - 1))
QUEUED = 4  # jobs a session may have waiting (a step, a point, a retune, a frame)


class Busy(UserError):
    """A session has more jobs waiting than ``QUEUED`` (HTTP 429)."""

    status = 429


class Trainer:
    """A bounded pool of training threads; jobs are queued per session and served in turn."""

    def __init__(self, workers: int = WORKERS) -> None:
        self.workers = workers
        self.queues: OrderedDict[str, deque] = OrderedDict()  # in order of arrival
        self.served: dict[str, int] = {}  # when each queued session last had a turn
        self.turns = 0
        self.running: set[str] = set()
        self.cond = threading.Condition()
        self.threads: list[threading.Thread] = []

    def submit(self, key: str, fn, *args) -> Future:
        """Run ``fn(*args)`` on a training thread, after ``key``'s earlier jobs."""
        future: Future = Future()
        with self.cond:
            queue = self.queues.setdefault(key, deque())
            if len(queue) >= QUEUED:
                raise Busy("this session already has work waiting: wait for its frame "
                           "before sending more")
            queue.append((future, fn, args))
            if len(self.threads) < self.workers:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"torchclf-train-{len(self.threads)}")
                self.threads.append(thread)
                thread.start()
            self.cond.notify()
        return future

    async def run(self, key: str, fn, *args):
        """``fn(*args)`` on a training thread, awaited without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(key, fn, *args))

    def _next(self):
        """A job of the session served longest ago (never: first, in order of arrival)
        among those with a job waiting and none running."""
        ready = [k for k, queue in self.queues.items() if queue and k not in self.running]
        if not ready:
            return None
        key = min(ready, key=lambda k: self.served.get(k, -1))
        self.turns += 1
        self.served[key] = self.turns
        self.running.add(key)
        return key, self.queues[key].popleft()

    def _work(self) -> None:
        while True:
            with self.cond:
                job = self._next()
                while job is None:
                    self.cond.wait()
                    job = self._next()
            key, (future, fn, args) = job
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args))
                    except BaseException as e:  # noqa: BLE001 - handed to the awaiting request
                        future.set_exception(e)
            finally:
                with self.cond:
                    self.running.discard(key)
                    if not self.queues.get(key):
                        self.queues.pop(key, None)
                        self.served.pop(key, None)
                    self.cond.notify_all()


TRAINER = Trainer()
