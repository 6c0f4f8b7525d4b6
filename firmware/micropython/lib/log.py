"""Minimal levelled logging to the console (MicroPython has no ``logging`` by default).

One line per event, ``<LEVEL> <name>: <message>``; quiet below the configured level.
"""

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class Logger:
    def __init__(self, name, level="info"):
        self.name = name
        self.level = _LEVELS.get(level, 20)

    def _log(self, lvl, tag, msg, args):
        if lvl >= self.level:
            print("%s %s: %s" % (tag, self.name, msg % args if args else msg))

    def debug(self, msg, *args):
        self._log(10, "DEBUG", msg, args)

    def info(self, msg, *args):
        self._log(20, "INFO", msg, args)

    def warning(self, msg, *args):
        self._log(30, "WARNING", msg, args)

    def error(self, msg, *args):
        self._log(40, "ERROR", msg, args)
