"""nowcast: operational typhoon and radar nowcasting with MoDeRNN."""

__version__ = "0.1.0"
