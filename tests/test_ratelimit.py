"""Fixed-window rate limits, in process memory and in Redis."""

import time

import pytest
import redis

from app.errors import RateLimited
from app.ratelimit import MemoryWindows, RateLimiter, RedisWindows


@pytest.fixture(params=["memory", "redis"])
def windows(request):
    if request.param == "memory":
        return MemoryWindows()
    return RedisWindows(redis.Redis.from_url(request.getfixturevalue("redis_url")))


def test_hits_count_up_within_a_window_and_start_again_after(windows):
    """Each key counts on its own; a new window starts from one."""
    key = f"test:{time.monotonic_ns()}"
    assert [windows.hit(key, 1) for _ in range(3)] == [1, 2, 3]
    assert windows.hit(key + ":other", 1) == 1
    assert 0 < windows.remaining(key, 1) <= 1
    time.sleep(1.1)
    assert windows.hit(key, 1) == 1


def test_past_the_limit_the_check_raises_with_the_time_left(windows, app):
    """The check allows up to the limit, then refuses with retry_after."""
    app.extensions["ratelimit"] = windows
    key = f"test:{time.monotonic_ns()}"
    with app.app_context():
        limiter = RateLimiter()
        for _ in range(3):
            limiter.check(key, 3, 10)
        with pytest.raises(RateLimited) as refused:
            limiter.check(key, 3, 10)
    assert 1 <= refused.value.details["retry_after"] <= 10
