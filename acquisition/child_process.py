"""Ending a helper child process that shares memory with its parent (the simulated camera's renderer,
the live spotter): asked through its pipe, then terminated, then killed; the pipe closed and the
shared memory unlinked. Safe to run twice (it runs from ``close()`` and from a ``weakref.finalize``)."""

from __future__ import annotations

import threading
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess


def end_child(
    proc: BaseProcess,
    conn: Connection,
    send_lock: threading.Lock,
    shms: list[shared_memory.SharedMemory],
    timeout: float,
) -> None:
    """Ask ``proc`` to stop (``("stop",)`` on ``conn``), wait ``timeout`` s, terminate, kill; close
    the pipe; close and unlink every shared memory block of ``shms`` (the list is emptied)."""
    try:
        with send_lock:
            conn.send(("stop",))
    except (OSError, ValueError):
        pass
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join(2)
    if proc.is_alive():
        proc.kill()
        proc.join(2)
    try:
        conn.close()
    except OSError:
        pass
    while shms:
        shm = shms.pop()
        try:
            shm.close()
        except BufferError:  # a view is still alive somewhere: the mapping goes with the process
            pass
        try:
            shm.unlink()
        except FileNotFoundError:
            pass
