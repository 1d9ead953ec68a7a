from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.gateway.adapters.shared_limits import SharedLimits
from services.gateway.domain.ratelimit import RateLimiter
from tests.support import eventually, free_port


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


# -- across instances: each takes what the others report ------------------------------------------


def _pair() -> tuple[tuple[RateLimiter, SharedLimits], tuple[RateLimiter, SharedLimits]]:
    a, b = RateLimiter(shared=True), RateLimiter(shared=True)
    clock = lambda: 0.0  # noqa: E731
    return (a, SharedLimits("-", a, "gw_a", monotonic=clock)), (
        b,
        SharedLimits("-", b, "gw_b", monotonic=clock),
    )


def test_an_instance_takes_what_another_reports() -> None:
    (a, share_a), (b, share_b) = _pair()
    assert [a.admit("k", 0.0, 4, 1000, 10) for _ in range(3)] == [0, 0, 0]
    a.settle("k", 0.0, 1000, 15)  # one request used 15 tokens more than admission took
    report = share_a.report()
    assert report is not None
    assert [(u.key_id, u.requests, u.tokens) for u in report.uses] == [("k", 3, 45)]
    assert (report.uses[0].requests_per_minute, report.uses[0].tokens_per_minute) == (4, 1000)
    assert share_a.report() is None  # drained: nothing new to say
    share_b.apply(report)
    assert b.admit("k", 0.0, 4, 1000, 10) == 0  # the 4th request of the minute, cluster-wide
    assert b.admit("k", 0.0, 4, 1000, 10) > 0  # the 5th: refused on b too
    share_a.apply(report)  # its own report comes back from the topic: not counted twice
    assert a.admit("k", 0.0, 4, 1000, 10) == 0


def test_fewer_tokens_than_admitted_are_given_back_everywhere() -> None:
    (a, share_a), (b, share_b) = _pair()
    assert a.admit("k", 0.0, None, 100, 80) == 0
    a.settle("k", 0.0, 100, -70)  # it used 10
    report = share_a.report()
    assert report is not None and report.uses[0].tokens == 10
    share_b.apply(report)
    assert b.admit("k", 0.0, None, 100, 90) == 0


def test_reports_from_long_ago_are_ignored() -> None:
    (a, share_a), (b, share_b) = _pair()
    assert a.admit("k", 0.0, 1, None, 0) == 0
    report = share_a.report()
    assert report is not None
    share_b.apply(
        report.model_copy(update={"occurred_at": report.occurred_at - timedelta(minutes=2)})
    )
    assert b.admit("k", 0.0, 1, None, 0) == 0


def test_unshared_limiter_keeps_no_count() -> None:
    limiter = RateLimiter()
    assert limiter.admit("k", 0.0, 5, 100, 10) == 0
    assert limiter.drain_use() == {}


async def test_without_kafka_reports_are_dropped_and_limits_stay_local() -> None:
    limiter = RateLimiter(shared=True)
    shared = SharedLimits(f"127.0.0.1:{free_port()}", limiter, "gw_a", interval_s=0.01)
    await shared.start()
    try:
        assert [limiter.admit("k", 0.0, 2, None, 0) for _ in range(3)][:2] == [0, 0]

        async def dropped() -> int:
            return shared.dropped

        await eventually(dropped, lambda n: n >= 1, timeout=10, interval=0.01, what="a drop")
        assert shared.sent == 0 and limiter.unreported == 0  # drained, not piling up
        assert limiter.admit("k", 0.0, 2, None, 0) > 0  # still limited, here alone
    finally:
        await shared.stop()
