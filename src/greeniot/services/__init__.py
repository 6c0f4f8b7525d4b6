"""Local Mosquitto, InfluxDB and PostgreSQL as child processes on free loopback ports (demo and
tests)."""

from greeniot.services.influxdb import InfluxProcess
from greeniot.services.mosquitto import MosquittoProcess
from greeniot.services.postgres import PostgresProcess
from greeniot.services.process import ServiceError, free_port

__all__ = ["InfluxProcess", "MosquittoProcess", "PostgresProcess", "ServiceError", "free_port"]
