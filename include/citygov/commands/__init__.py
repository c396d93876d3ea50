"""Command groups of ``govern`` contributed by capability modules.

Each module here is one group (``store``, ``catalog``, ``sources``, ``census``, ``patrol``, ``quality``,
``backflow``, ``disputes``, ``kpis``, ``rules``, ``city``, ``demo``) and defines ``add_commands(sub,
common)``: ``sub`` is the top-level subparsers object of ``govern``, and ``common`` is
:mod:`citygov.commands._common` (the store, ``print_json``, ids, dates, connections and the exit codes).
:func:`citygov.cli.build_parser` calls every module found here (not ``_``-prefixed), in name order. A new
group is one module here.
"""
