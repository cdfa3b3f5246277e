"""Synthetic request traces of a family photo library, for ``bench/eviction.py``.

Deterministic: every trace is a pure function of its parameters and seed (``random.Random``),
so two runs, or two worker processes, see the same requests.

File sizes (``photo_library_sizes``): photos log-normal around 3.5 MB (a phone JPEG/HEIC,
from about 0.3 to 25 MB), and 5 % videos log-uniform between 50 and 500 MB. Videos are few but
hold most of the bytes, as on a real phone: that is what makes the byte hit ratio differ from
the request hit ratio, and why one video must not push out a hundred photos.

Traces:

- ``zipf_trace``: a fixed library read under a Zipf popularity law (the k-th most popular file
  is read with probability proportional to 1/k^alpha; alpha 0.8 and 1.0 are the usual web and
  media values), popularity independent of size, requests spread over ``days``;
- ``fading_trace``: "new photos are hot, then fade". Files are added all the time (a few dozen
  a day); most reads go to recent files, with the chance of a file being read falling with its
  age as a power law (a Lomax distribution of the age read: half the recent-file reads are of
  files under a day old, a tail reaches back months); the rest are old favourites of the
  existing library, Zipf 0.8. Recency matters here, frequency much less.

    .venv/bin/python bench/traces.py        # a summary of the default traces
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

MB = 1_000_000
DAY = 86_400.0
# 2026-01-01T00:00:00Z: traces start here (any fixed instant would do; hotness needs a date).
START = 1_767_225_600.0


@dataclass(frozen=True)
class Trace:
    """Requests as three parallel columns: ``times[i]`` (POSIX s), ``objects[i]`` (an index
    into ``sizes``); ``sizes[o]`` is file ``o``'s size in bytes. Times never decrease."""

    name: str
    description: str
    times: array[float]
    objects: array[int]
    sizes: array[int]

    def __len__(self) -> int:
        return len(self.objects)

    def working_set_bytes(self) -> int:
        """Bytes of the distinct files the trace reads: what a cache of 100 % would hold."""
        return sum(self.sizes[o] for o in set(self.objects))

    def distinct_objects(self) -> int:
        return len(set(self.objects))

    def one_hit_share(self) -> float:
        """Share of the files read that are read exactly once (one-hit wonders)."""
        counts: dict[int, int] = {}
        for o in self.objects:
            counts[o] = counts.get(o, 0) + 1
        return sum(1 for c in counts.values() if c == 1) / max(len(counts), 1)


def photo_library_sizes(rng: random.Random, count: int, video_share: float = 0.05) -> array[int]:
    """``count`` file sizes: log-normal photos (median 3.5 MB), log-uniform 50-500 MB videos."""
    sizes = array("q")
    for _ in range(count):
        if rng.random() < video_share:
            size = math.exp(rng.uniform(math.log(50 * MB), math.log(500 * MB)))
        else:
            size = min(max(rng.lognormvariate(math.log(3.5 * MB), 0.45), 0.3 * MB), 25 * MB)
        sizes.append(int(size))
    return sizes


def zipf_weights(count: int, alpha: float) -> list[float]:
    """Cumulative Zipf weights of ranks 1..count (for ``random.choices(cum_weights=…)``)."""
    return list(itertools.accumulate(1.0 / (rank**alpha) for rank in range(1, count + 1)))


def _spread_times(rng: random.Random, count: int, days: float) -> array[float]:
    return array("d", sorted(START + rng.random() * days * DAY for _ in range(count)))


def zipf_trace(
    alpha: float,
    *,
    objects: int = 10_000,
    requests: int = 200_000,
    days: float = 30.0,
    seed: int = 1,
) -> Trace:
    """A fixed library of ``objects`` files read ``requests`` times under Zipf(``alpha``)."""
    rng = random.Random(f"zipf-{alpha}-{objects}-{requests}-{days}-{seed}")
    sizes = photo_library_sizes(rng, objects)
    by_rank = list(range(objects))
    rng.shuffle(by_rank)  # popularity independent of size
    ranks = rng.choices(range(objects), cum_weights=zipf_weights(objects, alpha), k=requests)
    return Trace(
        name=f"zipf-{alpha:.1f}",
        description=f"Zipf α={alpha:g}, {objects} files, {requests} requests over {days:g} days",
        times=_spread_times(rng, requests, days),
        objects=array("l", (by_rank[r] for r in ranks)),
        sizes=sizes,
    )


def fading_trace(
    *,
    library: int = 6_000,
    new_per_day: float = 60.0,
    requests: int = 200_000,
    days: float = 60.0,
    recent_share: float = 0.75,
    age_scale_days: float = 1.0,
    age_shape: float = 1.2,
    seed: int = 1,
) -> Trace:
    """New photos are hot, then fade; ``library`` older files get ``1 - recent_share`` of reads.

    A recent-file read picks an age from a Lomax law (scale ``age_scale_days``, shape
    ``age_shape``: density ∝ (1 + age/scale)^-(shape+1)) and reads the newest file at least
    that old; new files arrive as a Poisson process of ``new_per_day``.
    """
    rng = random.Random(f"fading-{library}-{new_per_day}-{requests}-{days}-{seed}")
    created = sorted(START - rng.random() * 3 * 365 * DAY for _ in range(library))
    arrivals = START
    while True:
        arrivals += rng.expovariate(new_per_day / DAY)
        if arrivals >= START + days * DAY:
            break
        created.append(arrivals)
    sizes = photo_library_sizes(rng, len(created))
    favourites = list(range(library))
    rng.shuffle(favourites)
    cum = zipf_weights(library, 0.8)
    times = _spread_times(rng, requests, days)
    objects = array("l")
    for t in times:
        if rng.random() < recent_share:
            age = age_scale_days * DAY * ((1.0 - rng.random()) ** (-1.0 / age_shape) - 1.0)
            objects.append(max(bisect.bisect_right(created, t - age) - 1, 0))
        else:
            objects.append(favourites[_pick(rng, cum)])
    return Trace(
        name="fading",
        description=(
            f"new photos hot then fading: {library} old files + {new_per_day:g}/day new, "
            f"{requests} requests over {days:g} days, {recent_share:.0%} to recent files"
        ),
        times=times,
        objects=objects,
        sizes=sizes,
    )


def _pick(rng: random.Random, cum_weights: Sequence[float]) -> int:
    return bisect.bisect_right(cum_weights, rng.random() * cum_weights[-1])


def default_traces(scale: float = 1.0, seed: int = 1) -> list[Trace]:
    """The three traces of the benchmark; ``scale`` multiplies files and requests."""
    objects = int(10_000 * scale)
    requests = int(200_000 * scale)
    return [
        zipf_trace(0.8, objects=objects, requests=requests, seed=seed),
        zipf_trace(1.0, objects=objects, requests=requests, seed=seed),
        fading_trace(
            library=int(6_000 * scale),
            new_per_day=60.0 * scale,
            requests=requests,
            seed=seed,
        ),
    ]


def main() -> None:
    for trace in default_traces():
        print(f"{trace.name:10} {trace.description}")
        print(
            f"{'':10} {trace.distinct_objects()} files read, working set "
            f"{trace.working_set_bytes() / 1e9:.1f} GB, "
            f"{trace.one_hit_share():.0%} of them read once"
        )


if __name__ == "__main__":
    main()
