"""Device credentials for the broker: Mosquitto password and ACL files, firmware config files,
and an optional TLS CA with a server certificate (``greeniot devices provision``)."""
