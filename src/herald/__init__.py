"""Herald: broadcast messages for research-computing portals."""

__version__ = "0.1.0"
