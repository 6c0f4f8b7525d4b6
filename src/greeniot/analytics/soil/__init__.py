"""Soil water: probe levels, zone water state, drought and waterlogging."""
