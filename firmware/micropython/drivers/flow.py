"""Pulse flow meter driver: a hall-effect turbine meter (e.g. YF-S201) on one input pin.

The meter closes its open-collector output once per turbine blade pass; the pin's IRQ counts
edges. The handler only adds 1 to an int (no allocation), so it is safe as a hard IRQ on the
ESP32. ``take()`` reads and zeroes the count with IRQs off, so no pulse is lost or counted
twice between the two steps.

Volume = pulses / K, with K the meter's K-factor in pulses per litre (config ``flow_k_per_l``):
the YF-S201 datasheet gives f [Hz] = 7.5 * Q [L/min], i.e. K = 7.5 * 60 = 450 pulses/L. K
varies with flow and with each meter; calibrate by timing a bucket (README.md).
"""


def _no_irq():
    return None


def _restore(_state):
    pass


class PulseCounter:
    """Counts pulses of ``pin`` (``pin.irq(handler=..., trigger=...)`` like ``machine.Pin``).

    ``disable_irq``/``enable_irq``: ``machine.disable_irq``/``machine.enable_irq`` on a real
    port; the unix port has neither (nor interrupts), so they default to no-ops there.
    """

    def __init__(self, pin, k_per_l, trigger=None, disable_irq=None, enable_irq=None):
        if not k_per_l > 0:
            raise ValueError("flow: k_per_l must be > 0 (pulses per litre)")
        self.k_per_l = float(k_per_l)
        self._count = 0
        self._off = disable_irq or _no_irq
        self._on = enable_irq or _restore
        self._handler = self._pulse  # bound once: no allocation inside the IRQ
        if trigger is None:
            pin.irq(handler=self._handler)
        else:
            pin.irq(handler=self._handler, trigger=trigger)

    def _pulse(self, _pin):
        self._count += 1

    def take(self):
        """Pulses since the previous ``take`` (and zero the count)."""
        state = self._off()
        n = self._count
        self._count = 0
        self._on(state)
        return n

    def litres(self, pulses):
        return pulses / self.k_per_l


class FlowMeter:
    """Volume per run and flow rate per report window on top of :class:`PulseCounter`.

    ``sample(elapsed_ms)`` takes the pulses of the window that just ended and returns
    ``(flow_l_min, litres)``; ``total_l`` accumulates since the last ``restart()`` (a valve
    open or close), which is how litres per run are counted.
    """

    def __init__(self, counter):
        self.counter = counter
        self.total_l = 0.0

    def restart(self):
        """Start a new total (at a valve state change); returns the litres of the old one,
        including pulses not yet sampled."""
        self.sample(0)
        old = self.total_l
        self.total_l = 0.0
        return old

    def sample(self, elapsed_ms):
        litres = self.counter.litres(self.counter.take())
        self.total_l += litres
        rate = litres * 60000.0 / elapsed_ms if elapsed_ms > 0 else 0.0
        return rate, litres
