"""`nowcast schedule`: the APScheduler daemon that ingests, forecasts, verifies and renders.

`plan` says which jobs run when, `jobs` holds the job functions, `store` keeps them in SQLite,
`heartbeat` records their outcomes and `view` shows them in `nowcast status`, `lock` allows one
daemon per archive, and `daemon` wires it together with a clean stop on SIGTERM/SIGINT.
"""

import lazy_loader

# The public names are listed in __init__.pyi.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
