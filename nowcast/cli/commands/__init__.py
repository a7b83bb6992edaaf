"""CLI subcommands: thin typed functions over the library modules."""
