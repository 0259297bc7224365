"""The leader's sample backlog: bounded, oldest first, and tied to one leader term."""

from __future__ import annotations

from collectors.backlog import SampleBacklog
from collectors.base import Sample


def samples(*stamps: float) -> list[Sample]:
    return [Sample(ts, "h", "m", 1.0) for ts in stamps]


def stamps(batch: list[Sample]) -> list[float]:
    return [s.ts for s in batch]


def test_past_its_limit_the_backlog_drops_the_oldest_and_counts_them():
    backlog = SampleBacklog(limit=3)
    backlog.start_term(1)
    backlog.add(samples(1, 2), 1)
    backlog.add(samples(3, 4, 5), 1)

    assert len(backlog) == 3 and backlog.dropped == 2
    assert stamps(backlog.take(10)[1]) == [3, 4, 5]


def test_a_batch_that_was_not_written_goes_first_again_and_then_the_oldest_are_dropped():
    backlog = SampleBacklog(limit=4)
    backlog.start_term(1)
    backlog.add(samples(1, 2, 3), 1)
    term, batch = backlog.take(2)
    backlog.add(samples(4, 5), 1)  # collected while the batch was being written
    assert len(backlog) == 5 and backlog.dropped == 0

    backlog.put_back(batch, term)

    assert stamps(backlog.take(10)[1]) == [2, 3, 4, 5]
    assert backlog.dropped == 1


def test_a_written_batch_leaves_the_backlog():
    backlog = SampleBacklog(limit=10)
    backlog.start_term(1)
    backlog.add(samples(1, 2), 1)
    _, batch = backlog.take(10)
    assert len(backlog) == 2  # being written still counts as waiting

    backlog.written(batch)

    assert len(backlog) == 0 and backlog.dropped == 0


def test_samples_of_an_ended_term_are_dropped_never_kept_for_the_next():
    backlog = SampleBacklog(limit=10)
    backlog.start_term(1)
    backlog.add(samples(1, 2), 1)
    term, batch = backlog.take(1)

    assert backlog.start_term(2) == 1  # the one still waiting
    backlog.put_back(batch, term)  # the one being written when the term changed
    backlog.add(samples(3), 1)  # collected before the change, added after it
    backlog.add(samples(4), 2)

    assert stamps(backlog.take(10)[1]) == [4]
    assert backlog.dropped == 3
    assert backlog.start_term(2) == 0  # the same term again changes nothing
