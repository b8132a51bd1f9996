"""One back-off rule for every retry (domain/retry.py)."""
import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.retry import DELIVERY, Backoff

CALENDARS = Backoff(base=timedelta(minutes=5), cap=timedelta(hours=1), jitter=False)


def test_waits_double_from_the_base_up_to_the_cap():
    assert [CALENDARS.after(n) for n in range(1, 7)] == [
        timedelta(minutes=m) for m in (5, 10, 20, 40, 60, 60)]
    assert DELIVERY.ceiling(1) == timedelta(seconds=30) and DELIVERY.ceiling(7) == timedelta(minutes=30)


@given(st.integers(-5, 10_000), st.integers(0, 2**32))
def test_a_jittered_wait_lies_in_the_upper_half_below_the_cap(attempt, seed):
    wait = DELIVERY.after(attempt, random.Random(seed))
    ceiling = min(DELIVERY.cap, DELIVERY.base * 2 ** max(0, min(attempt - 1, 20)))
    assert ceiling / 2 <= wait <= ceiling <= DELIVERY.cap


def test_the_same_random_source_gives_the_same_wait():
    assert DELIVERY.after(3, random.Random(7)) == DELIVERY.after(3, random.Random(7))
