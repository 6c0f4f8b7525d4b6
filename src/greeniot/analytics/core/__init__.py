"""Shared analytics machinery: ring-buffer windows, the device index, row statistics,
alarm latches, reading columns and estate lookups."""
