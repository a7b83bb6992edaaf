"""Verification: score forecasts against later observations and against baselines."""
