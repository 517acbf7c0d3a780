"""Progress of long steps: a rich bar in a terminal, a few log lines everywhere else.

Library code (loading, checks, publish, export, downloads) reports what it has done through a
`Step`, and never decides how that is shown:

    with progress.current().step("publish", total=len(tables), unit="tables") as step:
        for table in tables:
            ...
            step.advance(rows=rows_copied)

A `Reporter` makes the steps. The one `current()` returns is, by default, a logging reporter:
each step writes a line through the standard `logging` module (logger `ingestion.progress`) as
it starts, at most one every `every` seconds while it runs (LOG_EVERY_S, or
VRU_PROGRESS_LOG_SECONDS), and one as it ends, e.g. "publish: 12/40 tables, 1.2 M rows, 35 s".
That is what Airflow's task logs show, and the CLI when its output is not a terminal. Never a
line per row or per small item: however often `advance` is called, the lines are throttled, and a
step begun inside another (a caller's step over many small loads) logs at DEBUG only. A step is
always used as a context manager, so it ends (and says so) whatever happens.

The `vru` CLI wraps each step it runs in `attach(console)`: when the console is a terminal, steps
begun inside it are rows of one rich Progress display (a bar with the counts: done / total,
rows, bytes, elapsed time) instead of log lines. Library functions also take a `reporter`
argument, so a test passes its own (a fake clock, a short interval) without any global state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column

LOG = logging.getLogger(__name__)
LOG_EVERY_S = 30.0


def _log_every() -> float:
    try:
        return float(os.environ.get("VRU_PROGRESS_LOG_SECONDS", LOG_EVERY_S))
    except ValueError:
        return LOG_EVERY_S


def rows_text(n: int) -> str:
    """1,234 / 12.3 k / 1.2 M: a count as a log line or a bar shows it."""
    if n < 10_000:
        return f"{n:,}"
    return f"{n / 1e3:.1f} k" if n < 1_000_000 else f"{n / 1e6:.1f} M"


def _amount(n: int, unit: str) -> str:
    return decimal(n) if unit == "bytes" else rows_text(n)


def _quantity(n: int, unit: str) -> str:
    """"35.0 MB" (bytes name themselves), "1.2 M rows", "40 tables"."""
    return decimal(n) if unit == "bytes" else f"{rows_text(n)} {unit}"


class Step:
    """One long step's progress: `done` of `total` items of `unit` (files, tables, rows, bytes),
    with rows and bytes counted beside them and an optional phase ("checking", "comments").
    Made by a Reporter; used as a context manager, it reports its start and its end (or that it
    failed)."""

    def __init__(self, reporter: Reporter, name: str, total: int | None, unit: str):
        self.reporter, self.name, self.total, self.unit = reporter, name, total, unit
        self.done = self.rows = self.nbytes = 0
        self.phase = ""
        self.started = reporter.clock()
        self._lock = threading.Lock()
        self._task = None
        self._last_logged = self.started
        self._ended = False
        self._nested = False
        self.reporter._begin(self)

    # --- what library code calls ---------------------------------------------------------------

    def advance(self, n: int = 1, *, rows: int = 0, nbytes: int = 0) -> None:
        """`n` more items done, with the rows and bytes they held."""
        with self._lock:
            self.done += n
            self.rows += rows
            self.nbytes += nbytes
        self.reporter._changed(self)

    def update(self, *, done: int | None = None, total: int | None = None, rows: int | None = None,
               nbytes: int | None = None, phase: str | None = None) -> None:
        """Set counts outright (a download's rows so far and the total it announced)."""
        with self._lock:
            self.done = self.done if done is None else done
            self.total = self.total if total is None else total
            self.rows = self.rows if rows is None else rows
            self.nbytes = self.nbytes if nbytes is None else nbytes
            self.phase = self.phase if phase is None else phase
        self.reporter._changed(self)

    def set_phase(self, phase: str) -> None:
        self.update(phase=phase)

    def callback(self) -> Callable[[int, int], None]:
        """`on_progress(done, total)` for code that reports that way (arcgis.pages, nomis.pages)."""
        return lambda done, total: self.update(done=done, total=total or None)

    # --- how it reads ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        return self.reporter.clock() - self.started

    def counts(self) -> str:
        """"12/40 tables, 1.2 M rows, 35.0 MB": what is done so far (no time)."""
        parts = [f"{_amount(self.done, self.unit)}/{_quantity(self.total, self.unit)}" if self.total is not None
                 else _quantity(self.done, self.unit)]
        if self.rows and self.unit != "rows":
            parts.append(f"{rows_text(self.rows)} rows")
        if self.nbytes and self.unit != "bytes":
            parts.append(decimal(self.nbytes))
        return ", ".join(parts)

    def label(self) -> str:
        return f"{self.name} ({self.phase})" if self.phase else self.name

    def line(self) -> str:
        return f"{self.label()}: {self.counts()}, {self.elapsed():.0f} s"

    # --- start and end --------------------------------------------------------------------------

    def finish(self, failed: BaseException | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        self.phase = ""
        self.reporter._end(self, failed)

    def __enter__(self) -> Step:
        return self

    def __exit__(self, kind, error, tb) -> None:
        self.finish(error)


class Reporter:
    """Makes steps and shows them: as throttled log lines (no `display`), or as rows of a rich
    Progress display (`display`, as attach() makes for a terminal).

    In logs, a step begun while another of the same reporter is open in the same thread (a load
    inside a caller's step over many loads) writes its lines at DEBUG: the outer step's lines say
    the progress, and many small inner steps never flood the log."""

    def __init__(self, *, logger: logging.Logger | None = None, every: float | None = None,
                 clock: Callable[[], float] = time.monotonic, display: Progress | None = None):
        self.logger = logger or LOG
        self._every = every
        self.clock = clock
        self.display = display
        self._open: dict[int, int] = {}        # open steps per thread
        self._open_lock = threading.Lock()

    @property
    def every(self) -> float:
        """Seconds between two log lines of a step (VRU_PROGRESS_LOG_SECONDS unless given)."""
        return _log_every() if self._every is None else self._every

    def step(self, name: str, total: int | None = None, unit: str = "items") -> Step:
        return Step(self, name, total, unit)

    def _level(self, step: Step) -> int:
        return logging.DEBUG if step._nested else logging.INFO

    def _begin(self, step: Step) -> None:
        with self._open_lock:
            thread = threading.get_ident()
            step._nested = self._open.get(thread, 0) > 0
            self._open[thread] = self._open.get(thread, 0) + 1
        if self.display is not None:
            step._task = self.display.add_task(step.label(), total=step.total, counts=step.counts())
            return
        size = f" ({_quantity(step.total, step.unit)})" if step.total is not None else ""
        self.logger.log(self._level(step), "%s: started%s", step.name, size)

    def _changed(self, step: Step) -> None:
        if self.display is not None:
            self.display.update(step._task, description=step.label(), completed=step.done, total=step.total,
                                counts=step.counts())
            return
        now = self.clock()
        with step._lock:
            if now - step._last_logged < self.every:
                return
            step._last_logged = now
        self.logger.log(self._level(step), "%s", step.line())

    def _end(self, step: Step, failed: BaseException | None) -> None:
        with self._open_lock:
            thread = threading.get_ident()
            self._open[thread] = max(self._open.get(thread, 1) - 1, 0)
        if self.display is not None:
            self.display.remove_task(step._task)
            return
        if failed is None:
            self.logger.log(self._level(step), "%s: done, %s in %.0f s", step.name, step.counts(), step.elapsed())
        else:
            self.logger.log(logging.DEBUG if step._nested else logging.WARNING, "%s: stopped (%s) after %s, %.0f s",
                            step.name, type(failed).__name__, step.counts(), step.elapsed())


_CURRENT: ContextVar[Reporter | None] = ContextVar("vru_progress_reporter", default=None)
_LOGGING = Reporter()     # the process's logging reporter, so nested steps know their outer one


def current(reporter: Reporter | None = None) -> Reporter:
    """`reporter` when given, else the one attach() set for this context, else the logging reporter."""
    return reporter or _CURRENT.get() or _LOGGING


def columns() -> tuple:
    """The columns of a step's row in a terminal: spinner, what (cut to the width left), bar,
    counts, elapsed time."""
    return (SpinnerColumn(), TextColumn("{task.description}", table_column=Column(ratio=1, no_wrap=True,
                                                                                 overflow="ellipsis")),
            BarColumn(bar_width=24), TextColumn("{task.fields[counts]}", table_column=Column(no_wrap=True)),
            TimeElapsedColumn())


@contextlib.contextmanager
def attach(console: Console, title: str | None = None) -> Iterator[Reporter]:
    """Show the steps begun inside as a rich Progress display on `console` when it is a terminal
    (under a spinner row for `title`); otherwise as log lines, to stderr when nothing has
    configured logging (the CLI piped into a file or CI log)."""
    if not console.is_terminal:
        if not LOG.hasHandlers():
            _log_to_stderr()
        reporter = _LOGGING
        token = _CURRENT.set(reporter)
        try:
            if title:
                LOG.info("%s", title)
            yield reporter
        finally:
            _CURRENT.reset(token)
        return
    outer = _CURRENT.get()
    if outer is not None and outer.display is not None:      # one live display at a time: join it
        task = outer.display.add_task(title, total=None, counts="") if title else None
        try:
            yield outer
        finally:
            if task is not None:
                outer.display.remove_task(task)
        return
    with Progress(*columns(), console=console, transient=True, expand=True) as display:
        if title:
            display.add_task(title, total=None, counts="")
        reporter = Reporter(display=display)
        token = _CURRENT.set(reporter)
        try:
            yield reporter
        finally:
            _CURRENT.reset(token)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
