"""Local Mosquitto and InfluxDB as child processes on free loopback ports (demo and tests)."""

from greeniot.services.influxdb import InfluxProcess
from greeniot.services.mosquitto import MosquittoProcess
from greeniot.services.process import ServiceError, free_port

__all__ = ["InfluxProcess", "MosquittoProcess", "ServiceError", "free_port"]
