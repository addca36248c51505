"""The one progress bar geoembed shows, everywhere (encoding, images, galleries, benchmarks, training).

- Counts are integers (``120/20000 pt``), never unit-scaled floats (``0.00/20.0``).
- In a terminal (or a notebook) it is tqdm's live bar. The time left stays ``?`` until a few updates have come in
  (the first ones include model loading and warm-up, which would make a 6-minute run look like hours).
- When the output is not a terminal (a log file, CI, ``nohup``), it writes a plain line at most every
  ``GEOEMBED_PROGRESS_INTERVAL`` seconds (default 10) instead of carriage-return updates, so logs stay readable and
  small.
- :func:`quiet_third_party` silences other libraries' bars (transformers' "Loading weights") while geoembed loads
  models, so one bar speaks for the work.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterable, Iterator, TextIO

DEFAULT_INTERVAL_S = 10.0
_WARMUP_UPDATES = 3
_WARMUP_FRACTION = 0.02
_NO_ETA = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<?, {rate_fmt}{postfix}]"


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("GEOEMBED_PROGRESS_INTERVAL", DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


class _LineWriter:
    """A file for tqdm that turns its carriage-return redraws into whole lines (for logs and pipes).

    It writes the first line, then at most one line per ``interval`` seconds (tqdm also redraws on every change of
    description), and always the final line, which tqdm follows with a newline when the bar closes.
    """

    def __init__(self, stream: TextIO, interval: float):
        self.stream = stream
        self.interval = interval
        self._last = ""
        self._pending = ""
        self._written_at: float | None = None

    def write(self, text: str) -> None:
        import time

        line = text.replace("\r", "").strip()
        if line:
            self._pending = line
        now = time.monotonic()
        due = self._written_at is None or now - self._written_at >= self.interval or "\n" in text
        if due and self._pending and self._pending != self._last:
            self.stream.write(self._pending + "\n")
            self._last, self._written_at = self._pending, now

    def flush(self) -> None:
        self.stream.flush()


def _bar_class():
    from tqdm.auto import tqdm as auto_tqdm

    class Bar(auto_tqdm):  # type: ignore[misc, valid-type]
        """tqdm with the time left hidden until the rate means something."""

        @property
        def format_dict(self):  # noqa: D401 - tqdm's property
            d = super().format_dict
            total = d.get("total")
            warm = self.n >= _WARMUP_UPDATES and (not total or self.n >= _WARMUP_FRACTION * total)
            if not warm and total and not d.get("bar_format"):
                d["bar_format"] = _NO_ETA
            return d

    return Bar


def progress_bar(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str | None = None,
                 unit: str = "it", enabled: bool = True, leave: bool = False, file: TextIO | None = None, **kwargs: Any):
    """A progress bar over ``iterable`` or ``total`` steps (call ``update(n)``); a silent one when not ``enabled``.

    Accepts tqdm's other keyword arguments (``postfix``, ``position``...) except the ones it decides itself.
    """
    stream = file if file is not None else sys.stderr
    bar_class = _bar_class()
    in_notebook = any(c.__module__ == "tqdm.notebook" for c in bar_class.__mro__)  # tqdm.auto chose the widget
    interactive = _is_terminal(stream) or in_notebook
    options: dict[str, Any] = dict(total=total, desc=desc, unit=unit, disable=not enabled, leave=leave,
                                   unit_scale=False, dynamic_ncols=interactive)
    if interactive:
        options["file"] = stream
    else:
        options.update(file=_LineWriter(stream, _interval()), mininterval=_interval(), maxinterval=max(_interval(), 10.0),
                       ncols=80, leave=True)
    options.update(kwargs)
    return bar_class(iterable, **options)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def quiet_third_party() -> Iterator[None]:
    """Silence transformers' (and so sentence-transformers') progress bars, e.g. "Loading weights", for the block."""
    restore = None
    if "transformers" in sys.modules or _importable("transformers"):
        try:
            from transformers.utils import logging as hf_logging

            if hf_logging.is_progress_bar_enabled():
                hf_logging.disable_progress_bar()
                restore = hf_logging.enable_progress_bar
        except (ImportError, AttributeError):  # pragma: no cover - a transformers without these switches
            restore = None
    try:
        yield
    finally:
        if restore is not None:
            restore()


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
