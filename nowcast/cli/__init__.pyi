"""What other stages may use of `nowcast.cli` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .app import main as main
