"""Command groups of ``govern`` contributed by capability modules.

Each module here defines ``add_commands(sub, common)``: ``sub`` is the top-level subparsers object of
``govern``, and ``common`` is :mod:`citygov.cli` itself (for ``engine``, ``print_json`` and the exit
codes). :func:`citygov.cli.build_parser` calls every module found here, in name order.
"""
