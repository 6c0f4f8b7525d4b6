"""Entry point of a greeniot node: load the config, build the HAL, run the node.

On an ESP32 this file runs at every boot and wake-up (``config.json`` beside it). On unix:
``micropython -X heapsize=128k main.py path/to/config.json`` (cwd = the node's workdir).
"""

import gc
import sys

import config
from lib.store import makedirs


def build_hal(cfg):
    if cfg["hal"] == "esp32":
        from hal.esp32 import Esp32Hal

        return Esp32Hal(cfg)
    from hal.unix import UnixHal

    return UnixHal(cfg)


def main(argv):
    cfg = config.load(argv[1] if len(argv) > 1 else "config.json")
    makedirs(cfg["state_dir"])
    hal = build_hal(cfg)  # on ESP32 this already drives the valve output closed
    gc.collect()  # compiling the node module needs a few kB in one piece (128k heap)

    from app.node import Node

    node = Node(hal, cfg)
    try:
        node.run()
    except KeyboardInterrupt:  # a clean stop (SIGINT): a planned shutdown, not a fault
        node.shutdown()


main(sys.argv)
