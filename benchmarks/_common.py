"""Helpers shared by the benchmark scripts (not a benchmark itself)."""

import os
import shutil
import subprocess
import sys
import time


def cli_command():
    """The ``sklearn-vpnn`` command as an argv prefix (``python -m sklearn_vpnn.cli`` if not installed)."""
    exe = shutil.which("sklearn-vpnn")
    return [exe] if exe else [sys.executable, "-m", "sklearn_vpnn.cli"]


def run_child(cmd):
    """Run ``cmd``; return its wall time (s) and its own peak resident memory (MB).

    The peak is the child's own ``ru_maxrss`` from ``os.wait4``, not the running
    maximum over every child so far. A failing command prints its stderr and exits.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0:
        sys.stderr.write(stderr)
        raise SystemExit(f"command failed ({returncode}): {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024  # kB on Linux
