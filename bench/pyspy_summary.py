"""Summary of a ``py-spy record -f raw`` file (collapsed stacks, one ``frame;frame;... count``
line per distinct stack), small enough to bring back from the GPU machine: the top frames by
inclusive and by self samples, line numbers dropped, and the frames called directly from each
frame named on the command line.
Usage: python bench/pyspy_summary.py RAW [TOP] [FRAME_SUBSTRING ...]."""
import collections
import re
import sys
from typing import Dict, List, Tuple


def stacks(path: str) -> List[Tuple[List[str], int]]:
    found = []
    with open(path) as raw:
        for line in raw:
            frames, _, count = line.rstrip("\n").rpartition(" ")
            if frames and count.isdigit():
                found.append(([re.sub(r":\d+\)", ")", f) for f in frames.split(";")], int(count)))
    return found


def main(path: str, top: str = "40", *callers: str) -> None:
    found = stacks(path)
    total = sum(count for _, count in found)
    inclusive: Dict[str, int] = collections.Counter()
    own: Dict[str, int] = collections.Counter()
    children: Dict[str, Dict[str, int]] = collections.defaultdict(collections.Counter)
    for frames, count in found:
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
        for caller in callers:
            for depth, frame in enumerate(frames[:-1]):
                if caller in frame:
                    children[caller][frames[depth + 1]] += count
                    break
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"== top frames, {title}")
        for frame, count in counter.most_common(int(top)):
            print(f"{100 * count / total:6.2f}%  {frame[:200]}")
    for caller in callers:
        calls = children[caller]
        print(f"== called from the first frame matching {caller!r} ({sum(calls.values())} samples)")
        for frame, count in calls.most_common(int(top)):
            print(f"{100 * count / total:6.2f}%  {frame[:200]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
