"""The run's growth of the server counters, from samples: summed over restarts, which are recorded. Pure."""

from __future__ import annotations

from loadgen.counter_growth import Growth, Reset, Sample, flatten, growth


def _samples(*series: dict[str, float] | None) -> list[Sample]:
    """One sample per 5 s; None is a failed read."""
    return [
        Sample(5.0 * n, f"t{n}", counters, None if counters is not None else "refused")
        for n, counters in enumerate(series)
    ]


def test_growth_without_restart_is_end_minus_start() -> None:
    """Counters that only grow: the sum over the intervals is the last sample minus the first."""
    series = [{"sent": 10.0, "errors": 1.0}, {"sent": 25.0, "errors": 1.0}, {"sent": 40.0, "errors": 3.0}]
    got = growth(_samples(*series))
    assert got == Growth({name: series[-1][name] - series[0][name] for name in series[0]}, ())


def test_a_counter_that_goes_down_is_summed_over_its_restart_and_recorded() -> None:
    """A restart (the value falls) counts the value after it as growth since; the interval is recorded."""
    before, peak, after, end = 100.0, 130.0, 4.0, 9.0
    got = growth(_samples({"total": before}, {"total": peak}, {"total": after}, {"total": end}))
    assert got.counters == {"total": (peak - before) + after + (end - after)}
    assert got.resets == (Reset(10.0, ("total",)),)
    assert got.counters["total"] != end - before  # what end - start would have said


def test_only_the_counters_that_went_down_are_named_in_the_reset() -> None:
    """One worker restarting takes its share out of some sums: those, and only those, are named."""
    got = growth(_samples({"a": 5.0, "b": 5.0, "c": 1.0}, {"a": 2.0, "b": 7.0, "c": 0.0}))
    assert got.resets == (Reset(5.0, ("a", "c")),)
    assert got.counters == {"a": 2.0, "b": 2.0, "c": 0.0}


def test_failed_reads_are_skipped_and_the_growth_spans_them() -> None:
    """A failed read mid-run is not a sample of the counters: growth is taken across it."""
    got = growth(_samples({"x": 1.0}, None, None, {"x": 6.0}))
    assert got == Growth({"x": 5.0}, ())


def test_a_drop_across_failed_reads_is_still_a_reset() -> None:
    """A restart hidden behind failed reads shows as a fall between the reads on either side."""
    got = growth(_samples({"x": 8.0}, None, {"x": 3.0}))
    assert got == Growth({"x": 3.0}, (Reset(10.0, ("x",)),))


def test_a_counter_new_mid_run_grew_from_zero_and_a_missing_one_carries_forward() -> None:
    """A label first seen mid-run (a close code) grew from 0; one missing from a sample is not compared."""
    got = growth(_samples({"a": 2.0}, {"a": 3.0, "closes.1011": 2.0}, {"closes.1011": 4.0}, {"a": 7.0}))
    assert got == Growth({"a": 5.0, "closes.1011": 4.0}, ())


def test_no_sample_read_gives_no_growth() -> None:
    """With no successful read there is nothing to measure: no counters, no reset."""
    assert growth(_samples(None, None)) == Growth()
    assert growth([]) == Growth()


def test_flatten_names_closes_by_code() -> None:
    """Close counts get the results file's ``closes.<code>`` keys beside the other counters."""
    assert flatten({"sent": 3.0}, {"1000": 2.0, "1011": 1.0}) == {"sent": 3.0, "closes.1000": 2.0,
                                                                  "closes.1011": 1.0}


def test_samples_and_resets_as_plain_data() -> None:
    """A read sample carries its counters, a failed one its error; both their time."""
    ok, failed = _samples({"x": 1.0}, None)
    assert ok.to_dict() == {"t": 0.0, "at": "t0", "counters": {"x": 1.0}}
    assert failed.to_dict() == {"t": 5.0, "at": "t1", "error": "refused"}
    assert Reset(5.0, ("x",)).to_dict() == {"t": 5.0, "counters": ["x"]}
