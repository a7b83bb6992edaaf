"""The `nowcast` command line: the Typer app, one module per command, and the demo chain."""
