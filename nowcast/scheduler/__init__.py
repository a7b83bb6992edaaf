"""`nowcast schedule`: the APScheduler daemon that ingests, forecasts, verifies and renders.

`plan` says which jobs run when, `jobs` holds the job functions, `store` keeps them in SQLite,
`heartbeat` records their outcomes and `view` shows them in `nowcast status`, `lock` allows one
daemon per archive, and `daemon` wires it together with a clean stop on SIGTERM/SIGINT.
"""
