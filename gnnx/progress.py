"""A dependency-free progress bar for training loops (writes to stderr, one line)."""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")


class Progress:
    """Wrap an iterable; ``set(**values)`` shows values beside the bar."""

    def __init__(self, iterable: Iterable[T], total: Optional[int] = None, desc: str = "",
                 width: int = 24, stream=None, every: float = 0.1) -> None:
        self.iterable, self.desc, self.width = iterable, desc, width
        self.total = total if total is not None else len(iterable)  # type: ignore[arg-type]
        self.stream = stream or sys.stderr
        self.every, self.values, self._last = every, {}, 0.0
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def set(self, **values) -> None:
        self.values.update(values)

    def _draw(self, done: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self._last < self.every:
            return
        if not final and not self.interactive and (done % max(self.total // 4, 1) or done == self.total):
            return  # in logs, draw quarters only
        self._last = now
        filled = int(self.width * done / max(self.total, 1))
        extra = " ".join(f"{k}={v}" for k, v in self.values.items())
        line = f"{self.desc} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} {extra}"
        self.stream.write(f"\r{line}" + ("\n" if final else "") if self.interactive else f"{line}\n")
        self.stream.flush()

    def __iter__(self) -> Iterator[T]:
        done = 0
        for item in self.iterable:
            yield item
            done += 1
            self._draw(done)
        self._draw(done, final=True)
