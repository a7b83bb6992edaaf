"""Map products: forecast figures and animations, and the daily summary sheets."""

from nowcast.products.daily import render_daily
from nowcast.products.render import render_forecast

__all__ = ["render_daily", "render_forecast"]
