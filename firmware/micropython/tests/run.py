"""Tiny test runner for the firmware under MicroPython (no unittest/pytest on the device).

Usage: ``micropython -X heapsize=128k tests/run.py tests/test_outbox.py [test_name ...]``.
Runs every ``test_*`` function of the module (or the named ones), each called with a fresh
empty scratch directory as its only argument. Prints ``PASS``/``FAIL`` per test and
a closing ``N passed, M failed`` line; exits 1 on any failure. ``tests/firmware/test_units.py``
drives it from pytest. Env: ``FW_TMP`` = scratch root (default ``/tmp``).
"""

import gc
import os
import sys

_HERE = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
_ROOT = _HERE + "/.."
sys.path.insert(0, _ROOT)
sys.path.insert(0, _HERE)


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        p = path + "/" + name
        if os.stat(p)[0] & 0x4000:
            _rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def main(argv):
    path = argv[1]
    modname = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    mod = __import__(modname)
    names = argv[2:] or [n for n in sorted(dir(mod)) if n.startswith("test_")]
    tmp_root = os.getenv("FW_TMP") or "/tmp"
    passed = failed = 0
    for i, name in enumerate(names):
        fn = getattr(mod, name)
        scratch = "%s/fw-%s-%d" % (tmp_root, name, i)
        _rmtree(scratch)
        os.mkdir(scratch)
        gc.collect()
        try:
            fn(scratch)
            passed += 1
            print("PASS", name)
        except Exception as err:
            failed += 1
            print("FAIL", name)
            sys.print_exception(err)
        _rmtree(scratch)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main(sys.argv)
