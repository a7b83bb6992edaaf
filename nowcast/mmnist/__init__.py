"""Moving MNIST harness: digits, sequence generator, fixed test set, training, scoring, report."""

import lazy_loader

# The public names are listed in __init__.pyi.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
