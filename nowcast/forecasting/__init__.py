"""From archive history to a stored forecast: model or baseline, and the forecast files."""
