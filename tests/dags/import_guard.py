"""Import DAG files the way the DAG processor does and report any I/O their top-level code does.

Run in a fresh interpreter: ``python import_guard.py DAG_FILE [DAG_FILE ...]``. Prints one JSON object
per file: ``{"file", "seconds", "violations", "error"}``.

Airflow runs a DAG file's top-level code on every parse (every 30 s by default, in every component), so a
DAG file must not read files, open sockets, connect to databases or read Variables/Connections there.
While a DAG file's module executes, this guard traps:

- ``open`` of anything but Python code and installed library files (audit hook, so ``open``,
  ``io.open``, ``pathlib.Path.read_text`` and C extensions are all seen);
- ``socket.connect``/``socket.getaddrinfo``, ``sqlite3.connect`` and ``subprocess.Popen`` (audit hook);
- ``sqlalchemy.create_engine``, ``Engine.connect``, ``psycopg.connect`` and Airflow's
  ``Variable.get``/``Connection.get``/``BaseHook.get_connection`` (patched).

A trapped call is recorded and then raises, so the DAG file fails to import and the test shows why.
Airflow itself is imported before the guard is armed: the DAG processor has it loaded already. I/O done
by an installed library's own top-level code while the DAG file imports it (croniter runs ``file`` to
learn the word size) is the library's one-time cost per process, not the DAG file's, and is let through;
the same library function called from the DAG file's top level is trapped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import sysconfig
import time
from pathlib import Path

CODE_SUFFIXES = (".py", ".pyc", ".so", ".pyd", ".pth")
NETWORK_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "sqlite3.connect"}
PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"}


class ModuleLevelIOError(RuntimeError):
    """Raised inside a DAG file's top-level code when it does I/O."""


def _library_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    roots.update(p for p in sysconfig.get_paths().values() if p)
    # Time zone data read by zoneinfo/pendulum to build aware start dates is library data, not the DAG's.
    roots.update(["/usr/share/zoneinfo", "/usr/lib/python3/dist-packages"])
    return tuple(os.path.realpath(r) + os.sep for r in roots)


class Guard:
    def __init__(self) -> None:
        self.armed = False
        self.dag_file = ""
        self.violations: list[str] = []
        self._roots = _library_roots()

    def _library_import_in_progress(self) -> bool:
        """Whether the innermost module body on the stack, before any project code, is a library's."""
        frame = sys._getframe(2)
        while frame is not None:
            code = frame.f_code
            if code.co_filename == self.dag_file:
                return False
            if code.co_name == "<module>" and os.path.realpath(code.co_filename).startswith(self._roots):
                return True
            frame = frame.f_back
        return False

    def trap(self, what: str) -> None:
        if self._library_import_in_progress():
            return
        self.violations.append(what)
        raise ModuleLevelIOError(f"module-level I/O in a DAG file: {what}")

    def audit(self, event: str, args: tuple) -> None:
        if not self.armed:
            return
        if event == "open":
            path = args[0]
            if isinstance(path, int) or path is None:
                return
            path = os.fsdecode(path)
            if path.endswith(CODE_SUFFIXES) or os.path.isdir(path):
                return
            if os.path.realpath(path).startswith(self._roots):
                return
            self.trap(f"open({path!r}, {args[1]!r})")
        elif event in NETWORK_EVENTS:
            self.trap(f"{event}{args!r}")
        elif event in PROCESS_EVENTS:
            self.trap(f"{event}{args[:2]!r}")

    def patch(self) -> None:
        """Trap the calls that do I/O without a distinctive audit event (C drivers, Airflow's API)."""
        import sqlalchemy
        import sqlalchemy.engine
        from airflow import sdk

        def trapping(name: str, *, classmethod_: bool = False):
            def raiser(*args: object, **kwargs: object) -> object:
                if classmethod_:
                    args = args[1:]  # drop cls: the saved original is already bound to its class
                if self.armed:
                    self.trap(f"{name}{args!r}")
                return original[name](*args, **kwargs)

            return classmethod(raiser) if classmethod_ else raiser

        original = {
            "sqlalchemy.create_engine": sqlalchemy.create_engine,
            "Engine.connect": sqlalchemy.engine.Engine.connect,
        }
        sqlalchemy.create_engine = trapping("sqlalchemy.create_engine")
        sqlalchemy.engine.create_engine = sqlalchemy.create_engine
        sqlalchemy.engine.Engine.connect = trapping("Engine.connect")
        try:
            import psycopg

            original["psycopg.connect"] = psycopg.connect
            psycopg.connect = trapping("psycopg.connect")
        except ImportError:
            pass
        for cls, method in ((sdk.Variable, "get"), (sdk.Connection, "get"), (sdk.BaseHook, "get_connection")):
            name = f"{cls.__name__}.{method}"
            original[name] = getattr(cls, method)
            setattr(cls, method, trapping(name, classmethod_=True))


def import_dag_file(guard: Guard, path: Path, index: int) -> dict:
    name = f"citygov_guarded_dag_{index}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    guard.violations = []
    guard.dag_file = str(path)
    error = None
    start = time.perf_counter()
    guard.armed = True
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - any failure to import is reported, not raised
        error = f"{type(exc).__name__}: {exc}"
    finally:
        guard.armed = False
    seconds = time.perf_counter() - start
    return {"file": str(path), "seconds": round(seconds, 3), "violations": guard.violations, "error": error}


def main(argv: list[str]) -> int:
    files = [Path(a).resolve() for a in argv]
    # The DAG processor has Airflow and the SDK loaded before it parses a file; so do we.
    import airflow.sdk  # noqa: F401
    import pendulum  # noqa: F401

    guard = Guard()
    guard.patch()
    sys.addaudithook(guard.audit)
    for folder in {f.parent for f in files}:
        sys.path.insert(0, str(folder))  # Airflow puts the dags folder on sys.path
    for index, path in enumerate(files):
        print(json.dumps(import_dag_file(guard, path, index), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
