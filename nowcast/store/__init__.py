"""The archive and what other stages read of it: Zarr groups, grids, transforms, forecasts."""
