"""Server-side phased updates for Ubuntu stable release updates."""

__version__ = "0.1.0"
