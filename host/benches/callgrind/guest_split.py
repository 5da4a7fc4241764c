#!/usr/bin/env python3
"""Names the JIT-compiled component code in two callgrind profiles with wasmtime's perf map
(`/tmp/perf-PID.map`, written when the engine's profiler is `PerfMap`) and prints the
instructions of one call per guest function:

    guest_split.py SMALL.out N_SMALL SMALL.map LARGE.out N_LARGE LARGE.map
"""
import bisect
import re
import subprocess
import sys
from collections import defaultdict


def load_map(path):
    entries = []
    for line in open(path):
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) == 3:
            entries.append((int(parts[0], 16), int(parts[1], 16), parts[2]))
    entries.sort()
    return entries


def name_of(entries, starts, addr):
    i = bisect.bisect_right(starts, addr) - 1
    if i >= 0:
        start, size, name = entries[i]
        if start <= addr < start + size:
            return name
    return f"unmapped {addr:#x}"


def per_guest_function(out, mp):
    entries = load_map(mp)
    starts = [e[0] for e in entries]
    text = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", out],
                          capture_output=True, text=True, check=True).stdout
    counts = defaultdict(int)
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\([^)]*\)\s+\?\?\?:0x([0-9a-f]+) \[\?\?\?\]", line)
        if m:
            counts[name_of(entries, starts, int(m.group(2), 16))] += int(m.group(1).replace(",", ""))
    return counts


def main():
    a_out, a_n, a_map, b_out, b_n, b_map = sys.argv[1:7]
    a, b = per_guest_function(a_out, a_map), per_guest_function(b_out, b_map)
    calls = int(b_n) - int(a_n)
    diff = sorted(((b.get(k, 0) - a.get(k, 0)) / calls, k) for k in set(a) | set(b))
    diff.reverse()
    total = sum(d for d, _ in diff)
    print(f"guest instructions per call: {total:,.0f}")
    for d, k in diff[:int(sys.argv[7]) if len(sys.argv) > 7 else 40]:
        print(f"{d:>10,.0f}  {100 * d / max(total, 1):5.1f} %  {k[:140]}")


if __name__ == "__main__":
    main()
