"""A demo Lianyungang public data platform with deliberate, listed defects.

``create_demo_city(out_dir)`` writes department sources, a GBK catalog, Airflow connections, the
exchange platform's share requests, the open-data listing, provincial backflow batches and
``defects.json`` (what every check should find, and the expected KPIs).
"""

from citygov.demo.city import DEFAULT_AS_OF, DEFAULT_SEED, DemoCity, create_demo_city
from citygov.demo.model import DEPARTMENTS, PROVINCE, PROVINCIAL_SENDER, Department

__all__ = [
    "DEFAULT_AS_OF",
    "DEFAULT_SEED",
    "DEPARTMENTS",
    "PROVINCE",
    "PROVINCIAL_SENDER",
    "DemoCity",
    "Department",
    "create_demo_city",
]
