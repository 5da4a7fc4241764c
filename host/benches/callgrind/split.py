#!/usr/bin/env python3
"""Splits the instructions of one call by where they run, from two callgrind profiles of the
bench's profile mode (RUNWARE_BENCH_PROFILE) that differ only in the number of calls:

    split.py SMALL.out N_SMALL LARGE.out N_LARGE

The difference of the two profiles, divided by the difference of N, is one call with set-up,
compilation and warm-up cancelled out. Each function's own (exclusive) instructions go to the
first category whose pattern its name matches; JIT-compiled component code has no symbol
(`0x…` in an unknown object) and is the guest's own code plus wasmtime's trampolines.
"""
import re
import subprocess
import sys
from collections import defaultdict

# First match wins: order from the most specific.
CATEGORIES = [
    ("guest (JIT-compiled component code)", r"^\?\?\?:0x[0-9a-f]+ \[\?\?\?\]"),
    ("fiber switches", r"wasmtime_fiber|wasmtime_internal_fiber|fiber_switch|wasmtime_fiber_"),
    ("wasi:http resources and bodies", r"wasmtime_wasi_http"),
    ("wasi io/streams/pollables/clocks", r"wasmtime_wasi(_io)?::|wasmtime_internal_wasi|wasmtime_wasi_io"),
    ("wasmtime calls, lifting/lowering, instances", r"wasmtime::|wasmtime_internal|wasmtime_environ|wasmtime_cranelift|cranelift"),
    ("emulator (server side)", r"runware_emulator|axum|tower|matchit"),
    ("host library (hooks, pool, client)", r"runware_host"),
    ("hyper and http", r"hyper::|http::|httparse|h1::|hyper_util|http_body"),
    ("tokio tasks, timers, I/O driver", r"tokio::|mio::|parking_lot|crossbeam"),
    ("serde_json (host, emulator, native)", r"serde_json|serde::|ryu|itoa"),
    ("uuid, rand", r"uuid|rand"),
    ("malloc and free", r"malloc|_int_free|free|realloc|calloc|cfree"),
    ("memcpy, memset, memcmp", r"mem(cpy|move|set|cmp)|__memcpy|__memset|strlen|bcmp"),
    ("bench driver", r"^[^:]*:bench::"),
    ("std, core, alloc", r"std::|core::|alloc::|<alloc|<core|<std"),
    ("libc, kernel entry, other", r"."),
]


def per_function(path):
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--inclusive=no", path],
        capture_output=True, text=True, check=True,
    ).stdout
    counts = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        counts[m.group(2)] = counts.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return counts


def main():
    small, n_small, large, n_large = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    a, b = per_function(small), per_function(large)
    calls = n_large - n_small
    split = defaultdict(int)
    for name in set(a) | set(b):
        d = b.get(name, 0) - a.get(name, 0)
        # Match on the function, not on the object file it is in (all Rust code is in one).
        function = name if re.match(CATEGORIES[0][1], name) else re.sub(r" \[[^\]]*\]$", "", name)
        for cat, pat in CATEGORIES:
            if re.search(pat, function):
                split[cat] += d
                break
    total = sum(split.values())
    print(f"instructions per call: {total / calls:,.0f}")
    for cat, _ in CATEGORIES:
        v = split.get(cat, 0) / calls
        print(f"  {v:>10,.0f}  {100 * v * calls / max(total, 1):5.1f} %  {cat}")
    if "-v" in sys.argv:
        top = sorted(((b.get(n, 0) - a.get(n, 0), n) for n in set(a) | set(b)), reverse=True)
        for d, n in top[:60]:
            print(f"{d / calls:>10,.0f}  {n[:150]}")


if __name__ == "__main__":
    main()
