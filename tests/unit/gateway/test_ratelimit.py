from hypothesis import given
from hypothesis import strategies as st

from services.gateway.domain.ratelimit import RateLimiter


def test_requests_per_minute_then_retry_after() -> None:
    limiter = RateLimiter()
    assert [limiter.admit("k", 0.0, 2, None, 0) for _ in range(2)] == [0, 0]
    assert limiter.admit("k", 0.0, 2, None, 0) == 30  # one request refills in 30 s
    assert limiter.admit("k", 30.0, 2, None, 0) == 0


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter()
    assert limiter.admit("a", 0.0, 1, None, 0) == 0
    assert limiter.admit("b", 0.0, 1, None, 0) == 0
    assert limiter.admit("a", 0.0, 1, None, 0) > 0


def test_token_limit_counts_actual_use_after_the_request() -> None:
    limiter = RateLimiter()
    assert limiter.admit("k", 0.0, None, 100, 40) == 0
    limiter.settle("k", 0.0, 100, 60)  # the request used 100 tokens in all
    assert limiter.admit("k", 0.0, None, 100, 1) == 1  # bucket empty: wait


def test_a_refused_request_takes_nothing() -> None:
    limiter = RateLimiter()
    assert limiter.admit("k", 0.0, 10, 100, 100) == 0
    assert limiter.admit("k", 0.0, 10, 100, 50) > 0
    assert limiter.admit("k", 30.0, 10, 100, 50) == 0  # 50 tokens refilled; 1 request was free


def test_no_limits_means_always_admitted() -> None:
    assert RateLimiter().admit("k", 0.0, None, None, 10**9) == 0


@given(
    st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=200),
    st.integers(min_value=1, max_value=50),
)
def test_never_more_than_the_limit_in_any_minute(gaps: list[float], rpm: int) -> None:
    limiter, now, admitted = RateLimiter(), 0.0, []
    for gap in gaps:
        now += gap
        if limiter.admit("k", now, rpm, None, 0) == 0:
            admitted.append(now)
    # A token bucket: from any admitted request at t to a later one at u, at most a full
    # bucket plus what refilled in between (rpm per 60 s) were admitted, both included.
    for i, t in enumerate(admitted):
        for j in range(i, len(admitted)):
            u = admitted[j]
            assert j - i + 1 <= rpm + (u - t) * rpm / 60 + 1e-9, (t, u, j - i + 1)
