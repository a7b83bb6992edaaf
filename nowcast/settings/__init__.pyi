"""What other stages may use of `nowcast.settings` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .config import DEFAULT_CONFIG as DEFAULT_CONFIG
from .config import DEFAULT_MAX_PARAMETERS as DEFAULT_MAX_PARAMETERS
from .config import Settings as Settings
from .config import load_settings as load_settings
from .config import read_toml as read_toml
from .envexpand import expand_tree as expand_tree
