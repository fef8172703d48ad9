"""Reading the vendor perf tools' output (benchmarks/vendor_tools.py), on output they printed."""

from __future__ import annotations

import pytest

from benchmarks.vendor_tools import (
    parse_artemis_perf,
    parse_perftest,
    parse_producer_performance,
    parse_share_consumer_performance,
)

PERFTEST = """\
id: test-014237-830, starting producer #0, channel #0
id: test-014237-830, time 5.003 s, sent: 5941 msg/s, confirmed: 6941 msg/s, nacked: 0 msg/s, \
received: 6466 msg/s, min/median/75th/95th/99th consumer latency: 275/43346/64847/114213/205160 µs
test stopped (Producer reached message limit, Consumer queue(s) empty [4])
id: test-014237-830, sending rate avg: 3240 msg/s
id: test-014237-830, receiving rate avg: 3199 msg/s
id: test-014237-830, consumer latency min/median/75th/95th/99th 313/55904/113967/321968/481789 µs
"""


def test_perftest_summary_rates():
    rates = parse_perftest(PERFTEST)
    assert (rates.publish, rates.consume) == (3240.0, 3199.0)


def test_perftest_without_summary_is_an_error():
    with pytest.raises(ValueError, match="rate avg"):
        parse_perftest(PERFTEST.split("test stopped")[0])


def _interval(time_ms: int, sent: int) -> dict:
    return {"sampleType": "interval", "warmup": False, "time": time_ms, "sent": sent}


def test_artemis_perf_rates_span_the_samples():
    samples = [
        _interval(1_000, 900),
        _interval(2_000, 1100),
        _interval(3_000, 1000),
        {
            "sampleType": "summary",
            "time": 4_000,
            "result": "success",
            "totalSent": 4000,
            "totalCompleted": 4000,
            "totalReceived": 3600,
        },
    ]
    rates = parse_artemis_perf(samples)
    # samples from 1 s before the first one (t=0) to the summary (t=4 s): 4 s
    assert rates.publish == 1000.0 and rates.consume == 900.0


def test_artemis_perf_failure_or_missing_summary_is_an_error():
    with pytest.raises(ValueError, match="no interval samples or no summary"):
        parse_artemis_perf([_interval(1_000, 10)])
    failed = {"sampleType": "summary", "time": 2_000, "result": "failure"}
    with pytest.raises(ValueError, match="failure"):
        parse_artemis_perf([_interval(1_000, 10), failed])


def test_producer_performance_last_summary_line():
    text = (
        "Option --producer-props has been deprecated\n"
        "20000 records sent, 6666.666667 records/sec (6.51 MB/sec), 1212.44 ms avg latency, "
        "1638.00 ms max latency, 1478 ms 50th, 1630 ms 95th, 1634 ms 99th, 1637 ms 99.9th.\n"
    )
    assert parse_producer_performance(text) == (20000, pytest.approx(6666.666667))
    with pytest.raises(ValueError):
        parse_producer_performance("Exception in thread main\n")


def test_share_consumer_performance_csv():
    text = (
        "start.time, end.time, data.consumed.in.MB, MB.sec, nMsg.sec, data.consumed.in.nMsg, "
        "fetch.time.ms\n"
        "2026-12-05 01:43:18:181, 2026-12-05 01:43:25:115, 19.5313, 2.8167, 2884.3380, 20000, "
        "6934\n"
    )
    assert parse_share_consumer_performance(text) == (20000, pytest.approx(2884.338))
    with pytest.raises(ValueError):
        parse_share_consumer_performance("WARN something\n")
