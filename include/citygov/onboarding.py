"""A city as a first-class thing: its profile, the checks before it is onboarded, and the onboarding.

A **city profile** names where one city's state lives: its own Airflow home, governance store, suites
folder, data folder, catalog file and connections file. It is stored as ``<city folder>/city.json`` and
rendered as ``<city folder>/city.env`` (shell ``export`` lines). The *active* city is the one whose
``city.env`` is copied to ``<project>/.citygov/city.env``: ``scripts/airflow_env.sh`` sources that file, so
``make up``, ``govern`` in such a shell and every DAG task (inheriting the environment of the Airflow
processes) all read the same city. The demo is one such city (``data/demo/city.json``).

:func:`check_city` validates a catalog file and a connections file without writing anything and returns
every :class:`OnboardingProblem`; :func:`onboard_city` then writes the city's profile, store, sources,
catalog and drafted suites (the Airflow side, registering connections and running DAGs, is the shell's:
``govern city init``).
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from citygov.settings import GOVERNANCE_CONN_ID, project_home
from citygov.sources import SOURCE_EXTRA_KEY, ConnectionInfo, connections_from_data, source_kind

PROFILE_FILE = "city.json"
"""The profile's file name inside a city folder."""

ENV_FILE = "city.env"
"""The profile rendered as shell ``export`` lines, inside a city folder and (for the active city) in
``<project>/.citygov/``."""

PROFILE_ENV = "CITYGOV_CITY_PROFILE"
"""Environment variable naming the active profile's ``city.json`` (set by ``city.env``)."""

NEAREST_PROVIDER_CUTOFF = 0.6
"""How alike (difflib ratio, 0..1) a department and a provider must be for the provider to be named as the
one probably meant."""


@dataclass(frozen=True)
class OnboardingProblem:
    """Something that stops a city from being onboarded; nothing is written while there is one."""

    kind: str
    """``catalog`` (file or row), ``connections`` (the file), ``unreachable``, ``department`` (no or no
    matching ``citygov_department``) or ``undefined_connection`` (an entry's 数据连接 is not in the file)."""
    subject: str
    """What it is about: a file (with line and column for a catalog row), a connection id, an entry code."""
    message: str
    """What is wrong and what to do."""

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


@dataclass(frozen=True)
class CityProfile:
    """Where one city's state lives. Every path is absolute."""

    name: str
    """A label for people (the city folder's name unless given)."""
    directory: Path
    """The city folder holding ``city.json`` and, by default, everything below."""
    airflow_home: Path
    """``AIRFLOW_HOME``: the city's own Airflow metadata DB (SQLite ``airflow.db``), logs and connections."""
    store_url: str
    """``GOVERNANCE_DB_URL``: the city's governance store."""
    suites_dir: Path
    """``CITYGOV_SUITES_DIR``: one Great Expectations suite per dataset."""
    data_dir: Path
    """``CITYGOV_DATA_DIR``: Data Docs, reports and other generated files."""
    catalog_file: Path
    """The catalog export ``catalog_sync`` imports (Variable ``citygov_catalog_file``)."""
    connections_file: Path
    """The city's connections, ``airflow connections import`` format (``CITYGOV_CONNECTIONS_FILE``)."""

    @classmethod
    def in_folder(
        cls,
        directory: Path,
        *,
        catalog_file: Path,
        connections_file: Path,
        store_url: str | None = None,
        name: str | None = None,
    ) -> CityProfile:
        """A profile keeping everything of the city in ``directory``: ``airflow/``, ``suites/``, ``data/``
        and (unless ``store_url``) the store ``data/governance.db``."""
        directory = Path(directory).resolve()
        data_dir = directory / "data"
        return cls(
            name=name or directory.name,
            directory=directory,
            airflow_home=directory / "airflow",
            store_url=store_url or f"sqlite:///{data_dir / 'governance.db'}",
            suites_dir=directory / "suites",
            data_dir=data_dir,
            catalog_file=Path(catalog_file).resolve(),
            connections_file=Path(connections_file).resolve(),
        )

    @property
    def profile_file(self) -> Path:
        return self.directory / PROFILE_FILE

    @property
    def airflow_connections_file(self) -> Path:
        """The city's connections plus ``governance_db``, as imported into the city's Airflow (mode 0600)."""
        return self.airflow_home / "connections.json"

    def to_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CityProfile:
        paths = {"directory", "airflow_home", "suites_dir", "data_dir", "catalog_file", "connections_file"}
        return cls(**{k: Path(v) if k in paths else str(v) for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def read(cls, path: Path) -> CityProfile:
        """The profile in ``path`` (a ``city.json`` or the city folder holding one)."""
        path = Path(path)
        if path.is_dir():
            path = path / PROFILE_FILE
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def environment(self) -> dict[str, str]:
        """The environment variables the city sets for Airflow, ``govern`` and the DAGs."""
        return {
            PROFILE_ENV: str(self.profile_file),
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home / 'airflow.db'}",
            "GOVERNANCE_DB_URL": self.store_url,
            "CITYGOV_SUITES_DIR": str(self.suites_dir),
            "CITYGOV_DATA_DIR": str(self.data_dir),
            "CITYGOV_CATALOG_FILE": str(self.catalog_file),
            "CITYGOV_CONNECTIONS_FILE": str(self.connections_file),
        }

    def env_text(self) -> str:
        lines = [f"# citygov city profile {self.name!r}: written from {self.profile_file}; sourced by scripts/airflow_env.sh"]
        lines += [f"export {key}={shlex.quote(value)}" for key, value in self.environment().items()]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        """Write ``city.json`` and ``city.env`` into the city folder and create its folders."""
        for folder in (self.directory, self.airflow_home, self.suites_dir, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
        _write_private(self.profile_file, json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n")
        _write_private(self.directory / ENV_FILE, self.env_text())


ACTIVE_ENV = "CITYGOV_CITY_ENV"
"""Environment variable naming the file that holds the active city's ``city.env`` (default
``<project>/.citygov/city.env``); ``scripts/airflow_env.sh`` reads the same variable."""


def active_env_file(home: Path | None = None) -> Path | None:
    """The active city's env file, sourced by ``scripts/airflow_env.sh``: ``$CITYGOV_CITY_ENV`` when set,
    else ``<project>/.citygov/city.env``; None when ``CITYGOV_CITY_ENV`` is set and empty (the demo's
    defaults, what the Makefile's demo targets ask for)."""
    named = os.environ.get(ACTIVE_ENV)
    if named is None:
        return (home or project_home()) / ".citygov" / ENV_FILE
    return Path(named) if named else None


def activate(profile: CityProfile, home: Path | None = None) -> Path:
    """Make ``profile`` the city ``make up``, ``govern`` and the DAGs serve; returns the file written
    (``<project>/.citygov/city.env`` unless ``$CITYGOV_CITY_ENV`` names another)."""
    target = active_env_file(home) or (home or project_home()) / ".citygov" / ENV_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_private(target, profile.env_text())
    return target


def active_profile(home: Path | None = None) -> CityProfile | None:
    """The active city: ``$CITYGOV_CITY_PROFILE``, else the one the active env file names, else None."""
    named = os.environ.get(PROFILE_ENV)
    if not named:
        env_file = active_env_file(home)
        if env_file is None or not env_file.is_file():
            return None
        for line in env_file.read_text(encoding="utf-8").splitlines():
            if line.startswith(f"export {PROFILE_ENV}="):
                named = shlex.split(line.split("=", 1)[1])[0]
    return CityProfile.read(Path(named)) if named else None


def serve_active_city() -> CityProfile | None:
    """Give this process the active city's environment, as ``scripts/airflow_env.sh`` gives a shell: for
    ``govern`` run without it. An environment that already names a profile or a store
    (``GOVERNANCE_DB_URL``: a sourced profile, the cluster's processes, an operator's choice) is left alone,
    and a variable already set wins. Returns the profile served, or None."""
    if os.environ.get(PROFILE_ENV) or os.environ.get("GOVERNANCE_DB_URL"):
        return None
    try:
        profile = active_profile()
    except (OSError, ValueError, TypeError):
        return None
    if profile is not None:
        for key, value in profile.environment().items():
            os.environ.setdefault(key, value)
    return profile


def governance_connection(url: str) -> ConnectionInfo:
    """The Airflow connection ``governance_db`` for a store URL, in the form ``citygov_airflow`` turns back
    into the URL."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return ConnectionInfo(GOVERNANCE_CONN_ID, "sqlite", host=str(Path(u.database or "").resolve()))
    if backend == "postgresql":
        return ConnectionInfo(
            GOVERNANCE_CONN_ID,
            "postgres",
            host=u.host,
            port=u.port,
            login=u.username,
            password=u.password,
            schema=u.database,
        )
    return ConnectionInfo(GOVERNANCE_CONN_ID, "generic", host=u.render_as_string(hide_password=False))


def write_airflow_connections(city_connections: Path, store_url: str, out_file: Path) -> list[str]:
    """Write the connections file an Airflow imports: the city's (when the file exists) plus
    ``governance_db`` for ``store_url``; mode 0600, as it holds passwords. Returns the connection ids."""
    connections = json.loads(city_connections.read_text(encoding="utf-8")) if city_connections.exists() else {}
    connections[GOVERNANCE_CONN_ID] = governance_connection(store_url).to_airflow_json()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    _write_private(out_file, json.dumps(connections, ensure_ascii=False, indent=2))
    return sorted(connections)


# --- checks ----------------------------------------------------------------------------------------------


@dataclass
class CityCheck:
    """What :func:`check_city` read and found."""

    catalog: Any = None
    """The :class:`~citygov.catalog.importer.ParsedCatalog`, when the file could be read."""
    connections: dict[str, ConnectionInfo] = field(default_factory=dict)
    problems: list[OnboardingProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_city(
    catalog_file: Path,
    connections_file: Path,
    *,
    reachable: Callable[[ConnectionInfo], str | None] | None = None,
) -> CityCheck:
    """Check a city before anything of it is written, and return every problem found:

    - the catalog, as ``govern catalog import --dry-run`` checks it (every rejected row is a problem);
    - the connections file reads as ``airflow connections import`` JSON;
    - every connection is reachable (a database answers a connection, a folder exists): ``reachable``
      returns why not, or None (default :func:`why_unreachable`);
    - every connection's ``citygov_department`` is a catalog 信息资源提供方 (the nearest provider is named
      when one is close), and a connection the catalog uses has one;
    - every catalog entry's 数据连接 is defined in the connections file.

    Reads only: opens SQLite sources read-only and writes no file, store or Airflow state.
    """
    from citygov.catalog.importer import CatalogFileError, parse_catalog

    check = CityCheck()
    try:
        check.catalog = parse_catalog(Path(catalog_file))
        check.problems += [OnboardingProblem("catalog", _row_place(e), e.message) for e in check.catalog.errors]
    except (CatalogFileError, OSError) as exc:
        check.problems.append(OnboardingProblem("catalog", str(catalog_file), str(exc)))
    try:
        raw = json.loads(Path(connections_file).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object of conn_id → fields (the airflow connections import format)")
        check.connections = {
            conn_id: conn for conn_id, conn in connections_from_data(raw).items() if conn_id != GOVERNANCE_CONN_ID
        }
    except (OSError, ValueError, AttributeError) as exc:
        check.problems.append(OnboardingProblem("connections", str(connections_file), str(exc).splitlines()[0]))
    entries = check.catalog.entries if check.catalog else []
    providers = sorted({e.provider for e in entries})
    used_by: dict[str, list[str]] = {}
    for entry in entries:
        used_by.setdefault(entry.conn_id, []).append(entry.code)
    why = reachable or why_unreachable
    for conn_id, conn in sorted(check.connections.items()):
        error = why(conn)
        if error:
            check.problems.append(OnboardingProblem("unreachable", conn_id, error))
        department = conn.department
        if department is None:
            if conn_id in used_by:
                owners = sorted({e.provider for e in entries if e.conn_id == conn_id})
                check.problems.append(OnboardingProblem(
                    "department", conn_id,
                    f"no {SOURCE_EXTRA_KEY!r} in its extra, but the catalog reads {', '.join(used_by[conn_id])} "
                    f"from it; add \"{SOURCE_EXTRA_KEY}\": \"{owners[0]}\"",
                ))
        elif check.catalog is not None and department not in providers:
            check.problems.append(OnboardingProblem("department", conn_id, _department_message(department, providers)))
    if not any(p.kind == "connections" for p in check.problems):
        for conn_id, codes in sorted(used_by.items()):
            if conn_id not in check.connections:
                for code in codes:
                    check.problems.append(OnboardingProblem(
                        "undefined_connection", code,
                        f"its 数据连接 {conn_id!r} is not defined in {connections_file}; add it there or correct the entry",
                    ))
    return check


def why_unreachable(conn: ConnectionInfo) -> str | None:
    """Why a source cannot be reached (a database that does not answer, a folder that is not there), or None."""
    from citygov.sources import open_source

    try:
        with open_source(conn) as source:
            return source.unreachable()
    except Exception as exc:
        return f"cannot connect: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def _department_message(department: str, providers: list[str]) -> str:
    nearest = difflib.get_close_matches(department, providers, n=1, cutoff=NEAREST_PROVIDER_CUTOFF)
    hint = f"did you mean {nearest[0]!r}?" if nearest else f"the catalog's providers are {', '.join(providers) or 'none'}"
    return f"{SOURCE_EXTRA_KEY} {department!r} is no 信息资源提供方 of the catalog; {hint}"


def _row_place(error: Any) -> str:
    return f"{error.file}:{error.line}: {error.column}"


# --- onboarding ------------------------------------------------------------------------------------------


@dataclass
class OnboardingReport:
    """What :func:`onboard_city` wrote, and what the steward should review."""

    profile: CityProfile
    catalog_import: dict[str, Any] = field(default_factory=dict)
    sources: list[tuple[str, str, str]] = field(default_factory=list)
    drafted: list[str] = field(default_factory=list)
    """Suite files drafted (each to review: accept, drop or tighten rules)."""
    kept: list[str] = field(default_factory=list)
    """Datasets that already had a suite (left as they are)."""
    review: list[str] = field(default_factory=list)
    """What the steward should look at, one line each."""


def onboard_city(profile: CityProfile, check: CityCheck) -> OnboardingReport:
    """Write a checked city: its profile and folders, the migrated store, the catalog imported into it
    (as ``catalog_sync`` will), its department sources, and a drafted suite for every dataset without one.
    Refuses (ValueError) a check with problems: nothing is written then."""
    if not check.ok:
        raise ValueError(f"the city has {len(check.problems)} problem(s); nothing was written")
    from citygov.catalog.importer import import_catalog
    from citygov.catalog.queries import load_entries
    from citygov.census import register_sources
    from citygov.disputes import register_actor
    from citygov.quality.drafting import draft_entry_suite
    from citygov.quality.runner import BaseTables
    from citygov.quality.suites import suite_path, write_suite
    from citygov.store import engine_for, upgrade

    profile.write()
    report = OnboardingReport(profile)
    upgrade(profile.store_url)
    store = engine_for(profile.store_url)
    try:
        report.catalog_import = import_catalog(store, profile.catalog_file, source_label="city init").to_dict()
        report.sources = [
            (c.conn_id, c.department, source_kind(c)) for c in check.connections.values() if c.department
        ]
        register_sources(store, report.sources)
        # The web pages' admin acts as the steward, as `make demo` registers it.
        register_actor(store, "admin", "steward", display_name="Airflow admin (steward)")
        catalog = load_entries(store, published_only=False)
        resolve = check.connections.get
        with BaseTables(store, resolve) as base:
            for entry in catalog:
                target = suite_path(entry.code, profile.suites_dir)
                if target.exists():
                    report.kept.append(entry.code)
                    continue
                drafted = draft_entry_suite(entry, resolve, catalog=catalog, base_check=base)
                write_suite(drafted.suite, profile.suites_dir, path=target)
                report.drafted.append(str(target))
                report.review.append(
                    f"drafted suite {target.name}: {drafted.expectations} rules from {drafted.rows} rows{drafted.note()}"
                )
                report.review += [f"  {line}" for line in _partly_supported(drafted.suite)]
        for entry in catalog:
            if not entry.primary_key:
                report.review.append(
                    f"{entry.code} {entry.name} has no 主键: no uniqueness rule, and disputes cannot name a record"
                )
    finally:
        store.dispose()
    unused = sorted(set(check.connections) - {e.conn_id for e in check.catalog.entries})
    for conn_id in unused:
        report.review.append(f"connection {conn_id} is read by no catalog entry: the census lists what it holds as 应编未编")
    return report


def _partly_supported(suite: Any) -> list[str]:
    """The drafted rules the sampled data does not wholly satisfy: the rows breaking them will be findings on
    the first run, so each is worth a look (a true defect, or a rule to drop or loosen)."""
    lines = []
    for expectation in suite.expectations:
        config = expectation.configuration
        support = (config.meta or {}).get("support") or {}
        if support.get("of") and support.get("satisfied", 0) < support["of"]:
            column = config.kwargs.get("column") or config.kwargs.get("column_A") or ""
            lines.append(
                f"{config.type}({column}) holds for {support['satisfied']} of {support['of']} sampled rows: "
                f"the other {support['of'] - support['satisfied']} will be findings"
            )
    return lines


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


__all__ = [
    "CityCheck", "CityProfile", "OnboardingProblem", "OnboardingReport", "activate", "active_profile", "serve_active_city",
    "check_city", "governance_connection", "onboard_city", "why_unreachable", "write_airflow_connections",
]
