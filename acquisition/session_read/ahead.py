"""Decoding ahead: a producer runs in a thread of its own and hands its items over a bounded queue.

The one thread-plus-queue decoder of mexlab: :func:`acquisition.session_read.video.iter_frames`
(analysis), the stimulus video and audio readers of :mod:`protocols.media` (the participant's
screen) and nothing else decode in a thread. The producer calls ``put(item)``, which waits while the
queue is full and returns False once the consumer has closed it (the producer then returns). An
exception the producer raises reaches the consumer; the end of the producer is :data:`END`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

END = object()  # the producer has finished


class DecodeAhead:
    def __init__(
        self, produce: Callable[[Callable[[object], bool]], None], maxsize: int = 8, name: str = "mexlab-video-decode"
    ):
        self._q: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        self._halt = threading.Event()
        self._produce = produce
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._produce(self.put)
        except BaseException as exc:  # noqa: BLE001 - surfaced in the consumer
            self.put(exc)
        finally:
            self.put(END)

    def put(self, item: Any) -> bool:
        """Queue ``item`` (from the producer), waiting while the queue is full; False once closed."""
        while not self._halt.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self, timeout: float | None = None) -> Any:
        """The next item (or :data:`END`, or an exception the producer raised, as an object);
        ``timeout`` 0: do not wait. Raises queue.Empty when nothing came in time."""
        if timeout == 0:
            return self._q.get_nowait()
        return self._q.get(timeout=timeout)

    def __iter__(self) -> Iterator:
        """The items until the end; an exception of the producer is raised here."""
        while True:
            item = self.get()
            if item is END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self, timeout: float = 5.0) -> None:
        """Stop the producer (at its next ``put``) and wait for its thread."""
        self._halt.set()
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._thread.join(timeout=timeout)
