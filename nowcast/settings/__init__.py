"""Global settings: the TOML file, environment overrides and variable expansion."""
