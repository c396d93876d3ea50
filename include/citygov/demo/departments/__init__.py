"""The demo city's departments, one module each: its datasets' catalog entries as data, a row
generator per dataset and the defects it plants (:mod:`citygov.demo.builder` holds the vocabulary).

The order below is the order of random draws: reordering departments or datasets changes the city.
"""

from __future__ import annotations

from datetime import date

from citygov.demo.builder import CityBuilder, DepartmentSpec
from citygov.demo.departments.gaj import GAJ
from citygov.demo.departments.mzj import MZJ
from citygov.demo.departments.province import PROVINCE_BACKFLOW
from citygov.demo.departments.rsj import RSJ
from citygov.demo.departments.scjgj import SCJGJ
from citygov.demo.departments.templates import add_templates
from citygov.demo.departments.wjw import WJW
from citygov.demo.departments.zrzyj import ZRZYJ

DEPARTMENT_SPECS: tuple[DepartmentSpec, ...] = (GAJ, SCJGJ, RSJ, MZJ, WJW, ZRZYJ, PROVINCE_BACKFLOW)
"""Every department's declarations, in the order the city is made."""


def build_city(*, seed: int, scale: int, as_of: date) -> CityBuilder:
    """Make every dataset, defect and backflow batch of the demo city in memory."""
    city = CityBuilder(seed=seed, scale=scale, as_of=as_of)
    for spec in DEPARTMENT_SPECS:
        city.make(spec)
    add_templates(city)
    return city
