"""Storms: per-site wind episodes from a weather station or the trees' own sway."""
