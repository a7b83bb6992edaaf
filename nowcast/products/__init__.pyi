"""What other stages may use of `nowcast.products` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .daily import render_daily as render_daily
from .figures import add_colorbar as add_colorbar
from .figures import add_map as add_map
from .figures import decorate as decorate
from .figures import draw_field as draw_field
from .figures import lead_label as lead_label
from .maps import map_features as map_features
from .maps import map_grid as map_grid
from .probability import probability_style as probability_style
from .render import render_forecast as render_forecast
from .styles import FieldStyle as FieldStyle
from .styles import field_style as field_style
