"""The float texts the fast path remembers are exactly ``repr`` (ingest/fastpath.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from greeniot.ingest.fastpath import UNSET, FloatText


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=50))
def test_remembered_texts_are_repr_in_any_order(xs: list[float]) -> None:
    ft = FloatText(max_size=8)
    for x in xs + xs[::-1]:
        assert ft[x] == repr(x)


def test_zero_and_negative_zero_keep_their_own_texts() -> None:
    ft = FloatText()
    assert (ft[0.0], ft[-0.0], ft[0.0], ft[-0.0]) == ("0.0", "-0.0", "0.0", "-0.0")
    assert 0.0 not in ft


def test_bounded_and_prefixed_and_absent_is_empty() -> None:
    ft = FloatText(max_size=3, prefix=",t=")
    assert [ft[x] for x in (1.5, 2.5, 3.5)] == [",t=1.5", ",t=2.5", ",t=3.5"]
    assert len(ft) == 3
    assert ft[4.5] == ",t=4.5" and len(ft) == 1  # emptied when full, then remembered
    assert ft[UNSET] == "" and UNSET not in ft
