"""The ``mlake`` command line: a thin face over :class:`mlake.Lake` (parse, call, render)."""
