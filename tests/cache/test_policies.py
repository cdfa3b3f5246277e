"""Eviction policies: documented orders, protection, byte accounting, restart, and hit ratio.

Pure in-memory tests (no app, no I/O): every policy is driven the way the cache drives it,
``victims`` followed by ``on_remove`` for each key named.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection

import pytest

from balupi.services.cache.policies import (
    DEFAULT_POLICY,
    POLICY_NAMES,
    HotnessPolicy,
    LruPolicy,
    Policy,
    S3FifoPolicy,
    SievePolicy,
    StoredEntry,
    hotness,
    make_policy,
)
from balupi.services.cache.policy_api import EvictionPolicy

DAY = 86_400.0
MB = 1_000_000
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeTime:
    """POSIX seconds that move only when told to (what HotnessPolicy reads as now)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def build(name: str, time: FakeTime) -> Policy:
    return HotnessPolicy(time) if name == "hotness" else make_policy(name)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def evict(policy: Policy, bytes_needed: int, protected: Collection[str] = ()) -> list[str]:
    """What the cache does: ask for victims, then report each one's removal."""
    victims = policy.victims(bytes_needed, protected)
    for key in victims:
        policy.on_remove(key)
    return victims


def admit_all(policy: Policy, keys: str, time: FakeTime, size: int = 1) -> None:
    for key in keys:
        time.now += 60
        policy.admit(key, size)


def read(policy: Policy, keys: str, time: FakeTime, size: int = 1) -> None:
    for key in keys:
        time.now += 60
        policy.on_access(key, size)


# -- the documented order of each policy ------------------------------------------------------


def test_lru_evicts_the_least_recently_read(time: FakeTime) -> None:
    policy = LruPolicy()
    admit_all(policy, "abcd", time)
    read(policy, "ca", time)
    assert evict(policy, 4) == ["b", "d", "c", "a"]


def test_hotness_evicts_the_lowest_score_and_cools_files_with_age(time: FakeTime) -> None:
    policy = HotnessPolicy(time)
    admit_all(policy, "abc", time)
    read(policy, "aaab", time)  # a: 4 accesses, b: 2, c: 1
    assert evict(policy, 1) == ["c"]
    time.now += 10 * DAY
    policy.admit("d", 1)  # read once, just now: score 1
    # a: 4 / (1 + 10 days) ≈ 0.36 and b ≈ 0.18 have cooled below the new file.
    assert evict(policy, 3) == ["b", "a", "d"]


def test_hotness_takes_reads_since_scoring_into_account_before_any_rescoring(
    time: FakeTime,
) -> None:
    """A read only marks the heap entry stale; it is re-scored when it reaches the bottom."""
    policy = HotnessPolicy(time, rescore_seconds=1e12)  # never a full re-scoring
    admit_all(policy, "ab", time)
    read(policy, "aaaa", time)  # a's heap entry still holds its admission score, 1
    assert evict(policy, 1) == ["b"]
    assert "a" in policy


def test_hotness_score_is_the_seeds_formula() -> None:
    assert hotness(4, T0, T0 + DAY) == 2.0
    assert hotness(3, T0, T0) == 3.0
    assert hotness(3, T0 + 60, T0) == 3.0  # a clock step back never inflates a score


def test_sieve_keeps_visited_files_and_its_hand_moves_on(time: FakeTime) -> None:
    policy = SievePolicy()
    admit_all(policy, "abcd", time)
    read(policy, "ac", time)
    assert evict(policy, 1) == ["b"]  # a loses its bit and stays; b is the first unvisited
    # The hand goes on from where it stopped: c loses its bit, d goes; a, behind the hand,
    # waits for the next round even though it is now the oldest unvisited file.
    assert evict(policy, 1) == ["d"]
    policy.admit("e", 1)
    assert evict(policy, 2) == ["a", "c"]  # wrapped round to the old end
    assert policy.victims(10, ()) == ["e"]


def test_s3fifo_drops_files_read_once_and_remembers_them(time: FakeTime) -> None:
    policy = S3FifoPolicy()
    admit_all(policy, "abcd", time, size=10)
    read(policy, "bcd", time, size=10)
    assert evict(policy, 10) == ["a"]  # never read again: out of the small queue, into the ghost
    policy.admit("a", 10)  # fetched again: the ghost sends it straight to the main queue
    policy.admit("e", 10)
    # The small queue goes first: b, c and d were read, so they move to the main queue; the
    # newcomer e was not, so it goes (without the ghost, a would have gone instead).
    assert evict(policy, 10) == ["e"]
    # The main queue in FIFO order; the promotions spent the reads of b, c and d.
    assert evict(policy, 30) == ["a", "b", "c"]


@pytest.mark.parametrize("name", ["hotness", "sieve", "s3fifo"])
def test_favourites_survive_new_photos_browsed_once_and_a_video_watched_once(
    name: str, time: FakeTime
) -> None:
    """What a user notices: after scrolling past new photos and one video, favourites still
    open from the Pi. LRU, for contrast, drops them: they were read longest ago."""
    favourites = [f"favourite-{i}" for i in range(10)]
    browsed = [f"new-{i}" for i in range(10)]
    capacity = 100 * MB
    outcomes = {}
    for policy in (build(name, time), LruPolicy()):

        def get(key: str, size: int, policy: Policy = policy) -> bool:
            time.now += 60
            if key in policy:
                policy.on_access(key, size)
                return True
            evict(policy, policy.bytes + size - capacity)
            policy.admit(key, size)
            return False

        for key in favourites * 3 + browsed:
            get(key, 4 * MB)
        get("holiday.mp4", 30 * MB)
        outcomes[policy.name] = sum(get(key, 4 * MB) for key in favourites)
    assert outcomes[name] == len(favourites)
    assert outcomes["lru"] == 0


# -- protection and accounting ---------------------------------------------------------------


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_protected_keys_are_never_named_and_stay_tracked(name: str, time: FakeTime) -> None:
    policy = build(name, time)
    admit_all(policy, "abcdefgh", time, size=10)
    read(policy, "aceg", time, size=10)
    protected = {"a", "b", "h"}
    victims = evict(policy, 1_000, protected)
    assert sorted(victims) == ["c", "d", "e", "f", "g"]
    assert all(key in policy for key in protected)
    assert (len(policy), policy.bytes) == (3, 30)
    assert evict(policy, 1_000, protected) == []
    assert sorted(evict(policy, 1_000)) == ["a", "b", "h"]
    assert (len(policy), policy.bytes) == (0, 0)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_named_keys_stay_until_removed_and_asking_twice_names_them_again(
    name: str, time: FakeTime
) -> None:
    policy = build(name, time)
    admit_all(policy, "abcdef", time, size=10)
    read(policy, "ad", time, size=10)
    first = policy.victims(25, ())
    assert sum(10 for _ in first) >= 25
    assert (len(policy), policy.bytes) == (6, 60)  # nothing forgotten yet
    assert policy.victims(25, ()) == first
    # A read in the meantime takes a key back: it is no longer offered first.
    policy.on_access(first[0], 10)
    assert first[0] not in policy.victims(10, ())


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_byte_accounting_is_exact_through_random_operations(name: str, time: FakeTime) -> None:
    """A seeded random mix of admissions (some resizing), reads, removals and sweeps."""
    rng = random.Random(f"accounting-{name}")
    policy = build(name, time)
    sizes: dict[str, int] = {}
    for _ in range(5_000):
        time.now += rng.random() * 3600
        key = f"k{rng.randrange(300)}"
        op = rng.random()
        if op < 0.45:
            sizes[key] = rng.randrange(0, 10 * MB)
            policy.admit(key, sizes[key])
        elif op < 0.75:
            policy.on_access(key, sizes.get(key, 0))
        elif op < 0.85:
            policy.on_remove(key)
            sizes.pop(key, None)
        else:
            protected = {k for k in sizes if rng.random() < 0.2}
            needed = rng.randrange(0, 40 * MB)
            victims = policy.victims(needed, protected)
            assert len(victims) == len(set(victims))
            assert not protected & set(victims)
            assert all(key in sizes for key in victims)
            evictable = sum(v for k, v in sizes.items() if k not in protected)
            freed = sum(sizes[k] for k in victims)
            assert freed >= min(needed, evictable)
            # Every key but the last was needed to reach the bytes asked for.
            assert not victims or freed - sizes[victims[-1]] < needed
            if rng.random() < 0.8:
                for victim in victims:
                    policy.on_remove(victim)
                    del sizes[victim]
        assert len(policy) == len(sizes)
        assert policy.bytes == sum(sizes.values())
        assert all(k in policy for k in sizes)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_sizes_must_be_byte_counts(name: str, time: FakeTime) -> None:
    with pytest.raises(ValueError, match="bytes"):
        build(name, time).admit("a", -1)


# -- restart ---------------------------------------------------------------------------------


def rows_of(
    events: list[tuple[str, str]], time: FakeTime, sizes: Callable[[str], int]
) -> list[StoredEntry]:
    """What the catalog would have stored after ``events`` ("admit"/"read", key), 60 s apart."""
    hits: dict[str, int] = {}
    last: dict[str, float] = {}
    admitted: dict[str, float] = {}
    moment = time.now
    for kind, key in events:
        moment += 60
        if kind == "admit":
            hits[key] = 0
            admitted[key] = moment
        else:
            hits[key] += 1
        last[key] = moment
    return [StoredEntry(key, sizes(key), hits[key], last[key], admitted[key]) for key in hits]


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_restore_from_stored_rows_gives_the_order_before_the_restart(
    name: str, time: FakeTime
) -> None:
    events = [("admit", k) for k in "abcdefg"] + [("read", k) for k in "bdbfa"]
    rows = rows_of(events, time, lambda key: 10)
    live = build(name, time)
    for kind, key in events:
        time.now += 60
        if kind == "admit":
            live.admit(key, 10)
        else:
            live.on_access(key, 10)

    restored = build(name, time)
    restored.restore(reversed(rows))  # row order does not matter
    assert (len(restored), restored.bytes) == (len(live), live.bytes)
    assert restored.victims(1_000, ()) == live.victims(1_000, ())


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_restore_is_deterministic_and_keeps_one_row_per_key(name: str, time: FakeTime) -> None:
    rng = random.Random(7)
    rows = [
        StoredEntry(f"k{i}", rng.randrange(1, 5 * MB), rng.randrange(5), T0 - rng.random() * DAY)
        for i in range(200)
    ]
    rows.append(StoredEntry("k0", 123, 0, T0 - 2 * DAY))  # an older duplicate: ignored
    orders = []
    for _ in range(2):
        rng.shuffle(rows)
        policy = build(name, time)
        policy.restore(rows)
        assert len(policy) == 200
        assert policy.bytes == sum(r.size for r in rows) - 123
        orders.append(evict(policy, 10**12))
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == sorted(f"k{i}" for i in range(200))


# -- the factory and the default ------------------------------------------------------------


def test_make_policy_knows_every_name_and_refuses_others() -> None:
    for name in POLICY_NAMES:
        policy: EvictionPolicy = make_policy(name)  # the cache's contract (checked by mypy)
        assert policy.victims(1, ()) == []
        assert make_policy(name).name == name
    assert DEFAULT_POLICY in POLICY_NAMES
    with pytest.raises(ValueError, match="lfu"):
        make_policy("lfu")


def zipf_byte_hit_ratio(policy: Policy, time: FakeTime, seed: int) -> float:
    """Byte hit ratio on a seeded Zipf(0.8) trace of a small photo library, cache at 10 %."""
    rng = random.Random(seed)
    files = 1_000
    sizes = [
        int(rng.uniform(50, 500) * MB) if rng.random() < 0.05 else int(rng.uniform(2, 6) * MB)
        for _ in range(files)
    ]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(files)]
    requests = rng.choices(range(files), weights=weights, k=30_000)
    capacity = sum(sizes[f] for f in set(requests)) // 10
    read_bytes = hit_bytes = 0
    for f in requests:
        time.now += 60
        key, size = f"f{f}", sizes[f]
        read_bytes += size
        if key in policy:
            hit_bytes += size
            policy.on_access(key, size)
        elif size <= capacity:
            evict(policy, policy.bytes + size - capacity)
            policy.admit(key, size)
    return hit_bytes / read_bytes


@pytest.mark.parametrize("seed", [1, 2])
def test_the_default_policy_hits_more_bytes_than_lru_on_a_zipf_trace(
    seed: int, time: FakeTime
) -> None:
    default = zipf_byte_hit_ratio(build(DEFAULT_POLICY, time), time, seed)
    lru = zipf_byte_hit_ratio(LruPolicy(), time, seed)
    assert default > lru * 1.1, (default, lru)
