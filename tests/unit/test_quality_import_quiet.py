"""Importing Great Expectations through citygov under Airflow's logging adds no noise to task logs."""

from __future__ import annotations

import subprocess
import sys


def test_importing_gx_under_airflow_logging_is_quiet() -> None:
    code = "import airflow, citygov.quality, great_expectations; print('imported')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert "imported" in out.stdout
    assert "Skipping registering function" not in out.stdout + out.stderr
