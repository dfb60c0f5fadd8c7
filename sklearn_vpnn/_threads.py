"""Independent pieces of CPU work spread over torch's threads, one torch thread each.

Separating is a few loops over independent items: the rows of an STFT, the frame
chunks of every channel. :func:`run_all` runs the items of such a loop on as many
worker threads as torch has intra-op threads (``torch.get_num_threads()``), each
worker single-threaded (``torch.set_num_threads(1)`` in the worker: OpenMP's and
MKL's settings are per thread). Every core is then busy with whole items: no
synchronisation inside an item (torch's own threads meet at the end of every
operation, which costs much on a loaded machine), and the numpy steps run in
parallel too. The numbers are those of one torch thread, whatever the number of
workers.

The workers live as long as the process (a batch of files reuses them) and are
rebuilt when torch's thread count changes or after a fork. ``torch.set_num_threads``
also sets the process-wide default that a thread reads at its first torch call:
the workers read it before setting their own one thread, and :func:`run_all` gives
the caller's count back to it after every run, so threads started later (the
chunk read-ahead of :func:`sklearn_vpnn.chunking.iter_separate`, or the user's)
are not left with one thread.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["run_all"]

_state = threading.local()  # .worker: True in a worker thread
_lock = threading.Lock()
_pool = {"executor": None, "size": 0}


def _start_worker():
    import torch

    # torch reads the process-wide default into a thread's settings at its first
    # get_num_threads or parallel operation: do that first, then set one thread
    torch.get_num_threads()
    torch.set_num_threads(1)  # this thread's OpenMP and MKL settings (and the process default)
    _state.worker = True


def _forget_pool():  # a forked child has none of its parent's threads
    _pool.update(executor=None, size=0)


def _new_pool(n):
    """``n`` workers, all started (so none starts later and changes the process default)."""
    executor = ThreadPoolExecutor(n, thread_name_prefix="sklearn-vpnn", initializer=_start_worker)
    everyone = threading.Barrier(n)  # n tasks that wait for each other: n threads, all started
    list(executor.map(lambda _: everyone.wait(), range(n)))
    return executor


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_all(fn, items):
    """``[fn(item) for item in items]``, the items shared among torch's threads.

    Parameters
    ----------
    fn : callable
        Applied to each item; calls on different items must not depend on each
        other (they run concurrently, in no fixed order).
    items : iterable
        The items.

    Returns
    -------
    list
        The results, in the order of ``items``.
    """
    import torch

    items = list(items)
    n = torch.get_num_threads()
    # one item goes to a worker too: the numbers are always one torch thread's
    if n <= 1 or not items or getattr(_state, "worker", False):
        return [fn(item) for item in items]
    with _lock:
        if _pool["executor"] is None or _pool["size"] != n:
            if _pool["executor"] is not None:
                _pool["executor"].shutdown(wait=False)
            _pool.update(executor=_new_pool(n), size=n)
        executor = _pool["executor"]
    try:
        return list(executor.map(_one_thread(fn), items))
    finally:
        # a worker's torch.set_num_threads(1) also set the process-wide default, which
        # threads started later read: give it back (this thread's own count is unchanged)
        torch.set_num_threads(n)


def _one_thread(fn):
    """``fn`` run with one torch thread in the calling worker, whatever the caller reset since.

    The caller restores its own thread count after every :func:`run_all`, which torch
    may apply process-wide; a worker re-asserts one thread before each item, so the
    numbers never depend on the thread count (tested).
    """
    def call(item):
        import torch

        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        return fn(item)

    return call
