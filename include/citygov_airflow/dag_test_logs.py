"""Task logs for runs made with ``dag.test`` (``make demo``, the end-to-end tests), where the UI finds them.

``dag.test`` runs each task inside its own process, without the supervisor that normally writes the task's
log file: the log goes to the process's output and the UI shows an empty log. :func:`task_log_files` makes
each task's log a file of JSON lines at the path Airflow reads it from (``[logging] base_log_folder`` /
``log_filename_template``), as a worker's supervisor writes it, for as long as the ``with`` block lasts.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def task_log_path(ti: Any) -> Path:
    """Where Airflow keeps the log of ``ti``'s current try (a task instance of the SDK or the ORM)."""
    from airflow.configuration import conf
    from jinja2 import Template

    relative = Template(conf.get("logging", "log_filename_template")).render(ti=ti, try_number=ti.try_number)
    return Path(conf.get("logging", "base_log_folder")).expanduser() / relative


class _TaskOutput:
    """The binary stream logging writes to while the block runs: the process's output, and the running
    task's log file too. One stream for the whole block: loggers keep the stream they were made with (an
    operator's or a DagRun's logger is made once per object)."""

    def __init__(self, process: IO[bytes]) -> None:
        self.process = process
        self.file: IO[bytes] | None = None

    def write(self, data: bytes) -> int:
        if self.file is not None:
            self.file.write(data)
        self.process.write(data)
        return len(data)

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()
        self.process.flush()


@contextmanager
def task_log_files() -> Iterator[None]:
    """While the block runs, logging writes JSON lines (as a worker's supervisor does), and each task
    ``dag.test`` runs logs to its own file as well as to the process's output."""
    from airflow.sdk.execution_time import supervisor
    from airflow.sdk.log import configure_logging, reset_logging

    original = supervisor.run_task_in_process
    output = _TaskOutput(sys.__stdout__.buffer if sys.__stdout__ is not None else open(os.devnull, "wb"))

    def run_task_in_process(ti, task, client=None):  # type: ignore[no-untyped-def]
        path = task_log_path(ti)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as output.file:
            try:
                return original(ti=ti, task=task, client=client)
            finally:
                output.file.flush()
                output.file = None

    reset_logging()
    configure_logging(json_output=True, output=output, cache_logger_on_first_use=False)
    root = logging.getLogger()
    # Reconfiguring leaves the earlier stream handler beside the new one (a test's log capture is not a
    # plain StreamHandler and stays).
    root.handlers[:] = [h for h in root.handlers if _writes_to(h, output) or type(h) is not logging.StreamHandler]
    supervisor.run_task_in_process = run_task_in_process
    try:
        yield
    finally:
        supervisor.run_task_in_process = original
        reset_logging()
        configure_logging()
        root.handlers[:] = [h for h in root.handlers if not _writes_to(h, output)]


def _writes_to(handler: logging.Handler, output: _TaskOutput) -> bool:
    stream = getattr(handler, "stream", None)
    return stream is output or getattr(stream, "stream", None) is output
