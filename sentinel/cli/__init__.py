"""The command line: entry point ``sentinel`` (:mod:`sentinel.cli.main`); nothing here is imported by other packages."""

__all__: list[str] = []
