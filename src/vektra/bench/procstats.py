"""RSS and CPU time of the processes a system runs on.

The client is this process; a cluster started by `vektra up` adds its
router, coordinator and nodes, found as the `up` process's children by their
command line (`... serve ROLE ... --node-id ID`). CPU is user + system
seconds from psutil, read before and after a workload; the peak RSS is the
kernel's high-water mark (VmHWM) where there is one, else the current RSS.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import psutil

__all__ = ["ProcessSet", "group_of"]

MB = 1024 * 1024


def group_of(label: str) -> str:
    """The report's column for a process: the nodes are summed as one."""
    return "nodes" if label.startswith("node") else label


def _label(proc: psutil.Process) -> str | None:
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return None
    if "serve" not in argv:
        return None
    rest = argv[argv.index("serve") + 1 :]
    if not rest:
        return None
    role = rest[0]
    if role == "node" and "--node-id" in rest:
        return str(rest[rest.index("--node-id") + 1])
    return str(role)


def _peak_rss(proc: psutil.Process) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return int(proc.memory_info().rss)


class ProcessSet:
    """Named processes measured together: {"client": this process,
    "router": ..., "coordinator": ..., "node-0": ...}."""

    def __init__(self, procs: Mapping[str, psutil.Process] | None = None) -> None:
        self.procs: dict[str, psutil.Process] = dict(procs or {})

    @classmethod
    def client_only(cls) -> ProcessSet:
        return cls({"client": psutil.Process(os.getpid())})

    @classmethod
    def of_cluster(cls, up_pid: int) -> ProcessSet:
        procs = {"client": psutil.Process(os.getpid())}
        for child in psutil.Process(up_pid).children(recursive=True):
            label = _label(child)
            if label is not None:
                procs[label] = child
        return cls(procs)

    def cpu_s(self) -> dict[str, float]:
        out = {}
        for label, proc in self.procs.items():
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                out[label] = t.user + t.system
        return out

    def rss_mb(self) -> dict[str, float]:
        out = {}
        for label, proc in self.procs.items():
            with contextlib.suppress(psutil.Error):
                out[label] = proc.memory_info().rss / MB
        return out

    def peak_rss_mb(self) -> dict[str, float]:
        out = {}
        for label, proc in self.procs.items():
            with contextlib.suppress(psutil.Error):
                out[label] = _peak_rss(proc) / MB
        return out

    @staticmethod
    def grouped(values: Mapping[str, float]) -> dict[str, float]:
        """Per-process values summed per report column (the nodes as one)."""
        out: dict[str, float] = {}
        for label, value in values.items():
            out[group_of(label)] = out.get(group_of(label), 0.0) + value
        return out

    @staticmethod
    def delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        return {k: after[k] - before.get(k, 0.0) for k in after}
