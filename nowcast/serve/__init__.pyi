"""What other stages may use of `nowcast.serve` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .runner import bind_socket as bind_socket
from .runner import run_server as run_server
from .security import TOKEN_ENV as TOKEN_ENV
from .security import bind_warning as bind_warning
