"""greeniot: open IoT smart-maintenance backend for urban and residential greenery."""

__version__ = "0.1.0"
