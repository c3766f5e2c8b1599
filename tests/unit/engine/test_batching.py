"""Natural batching: a batch closes when nothing more is buffered once the previous
commit is done; size and age only cap it."""

from candleflow.engine.batching import IDLE_WAIT_MS, Gathering


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_empty_batch_never_closes_and_waits_for_its_first_record() -> None:
    gathering = Gathering(max_size=10, within=0.2, clock=Clock())
    assert not gathering.closed(previous_done=True)
    assert gathering.wait_ms(previous_done=True) == IDLE_WAIT_MS
    gathering.add([], previous_done=True)
    assert not gathering.closed(previous_done=True)


def test_with_the_previous_commit_done_it_takes_what_is_buffered_and_closes() -> None:
    gathering = Gathering(max_size=10, within=0.2, clock=Clock())
    gathering.add([1, 2], previous_done=True)
    assert not gathering.closed(previous_done=True)  # more may be buffered: look once
    assert gathering.wait_ms(previous_done=True) == 0
    gathering.add([3], previous_done=True)
    assert not gathering.closed(previous_done=True)
    gathering.add([], previous_done=True)
    assert gathering.closed(previous_done=True)
    assert gathering.records == [1, 2, 3]


def test_while_the_previous_commit_runs_it_keeps_gathering_until_that_commit_ends() -> None:
    clock = Clock()
    gathering = Gathering(max_size=10, within=0.2, clock=clock)
    gathering.add([1], previous_done=False)
    gathering.add([], previous_done=False)
    assert not gathering.closed(previous_done=False)
    assert gathering.wait_ms(previous_done=False) == 200  # until the age cap: the commit's end interrupts it
    clock.now += 0.05
    gathering.add([2, 3], previous_done=False)
    # the commit ended: an empty fetch made before that does not count as drained
    assert not gathering.closed(previous_done=True)
    gathering.add([], previous_done=True)
    assert gathering.closed(previous_done=True)
    assert gathering.records == [1, 2, 3]


def test_size_caps_a_batch_even_while_the_previous_commit_runs() -> None:
    gathering = Gathering(max_size=3, within=10.0, clock=Clock())
    gathering.add([1, 2], previous_done=False)
    assert gathering.room == 1
    gathering.add([3], previous_done=False)
    assert gathering.closed(previous_done=False)


def test_age_caps_a_batch_from_its_first_record() -> None:
    clock = Clock()
    gathering = Gathering(max_size=100, within=0.2, clock=clock)
    clock.now += 5  # waiting for the first record does not count
    gathering.add([1], previous_done=False)
    assert not gathering.closed(previous_done=False)
    clock.now += 0.15
    assert gathering.wait_ms(previous_done=False) == 50
    clock.now += 0.0495
    assert gathering.wait_ms(previous_done=False) == 1  # rounded up: never a busy loop before the cap
    clock.now += 0.01
    assert gathering.closed(previous_done=False)
