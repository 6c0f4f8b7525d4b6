"""Assertion helpers for the firmware tests (MicroPython strips nothing from ``assert``,
but a message with both values makes a failure readable in the pytest output)."""


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def near(got, want, tol, what=""):
    if not abs(got - want) <= tol:
        raise AssertionError("%s: got %r, want %r ± %r" % (what, got, want, tol))


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return
    raise AssertionError("%s did not raise %s" % (fn, exc))
