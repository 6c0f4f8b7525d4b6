"""Site weather forecasts: the adapter interface, the Open-Meteo adapter, file import, and
publishing on the per-site ``forecast`` channel. No decisions here: the maintenance process
feeds what arrives on the channel to the watering planner and the pre-storm sweep
(:mod:`greeniot.actions.forecast`)."""

from greeniot.forecasts.adapter import (
    DailyForecast,
    ForecastInputError,
    WeatherService,
    daily_site_forecasts,
    site_forecast,
)
from greeniot.forecasts.publish import publish_forecast

__all__ = ["DailyForecast", "ForecastInputError", "WeatherService", "daily_site_forecasts",
           "publish_forecast", "site_forecast"]
