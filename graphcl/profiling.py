"""Peak-memory measurement for training runs and benchmarks."""
from __future__ import annotations

import os
import resource
import threading
import time
from types import TracebackType

import torch


def _current_rss_mb() -> float:
    """Resident set size of this process in MiB (Linux ``/proc``; falls back to the lifetime peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakMemory:
    """Context manager recording the peak memory of the code it wraps, in MiB.

    On CUDA devices this is ``torch.cuda.max_memory_allocated`` (reset on entry). On CPU it is the
    peak resident set size of the process, sampled every ``interval`` seconds by a background
    thread, so it includes the model, the data and Python itself; ``peak_mb - baseline_mb`` is the
    growth during the block.
    """

    def __init__(self, device: torch.device | str = "cpu", interval: float = 0.005) -> None:
        self.device = torch.device(device)
        self.interval = interval
        self.baseline_mb = 0.0
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, _current_rss_mb())
            time.sleep(self.interval)

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.baseline_mb = torch.cuda.memory_allocated(self.device) / 2 ** 20
        else:
            self.baseline_mb = self.peak_mb = _current_rss_mb()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2 ** 20
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            self.peak_mb = max(self.peak_mb, _current_rss_mb())
