"""`nowcast serve`: the forecaster's live, read-only web page and its JSON API."""
