"""`nowcast serve`: the forecaster's live, read-only web page and its JSON API."""

import lazy_loader

# The public names are listed in __init__.pyi.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
