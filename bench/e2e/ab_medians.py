"""Medians of an A/B benchmark's runs as a Markdown table.

Usage: python3 bench/e2e/ab_medians.py RESULTS NAME...
RESULTS has one line per run: BUILD RUN VALUE... (one VALUE per NAME). Prints one row per
build (in the order they first appear) with its number of runs and the median of each value,
then one line "medians BUILD VALUE..." per build for scripts that derive ratios from them.
"""
import statistics
import sys

rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
names = sys.argv[2:]
builds = list(dict.fromkeys(r[0] for r in rows))
print()
print("| build | runs | " + " | ".join(names) + " |")
print("|---|---:|" + "---:|" * len(names))
med = {}
for b in builds:
    runs = [list(map(float, r[2:])) for r in rows if r[0] == b]
    med[b] = [statistics.median(x[i] for x in runs) for i in range(len(names))]
    cells = ("%d" % v if v >= 1e4 else "%.4g" % v for v in med[b])
    print("| %s | %d | %s |" % (b, len(runs), " | ".join(cells)))
print()
for b in builds:
    print("medians %s %s" % (b, " ".join(repr(v) for v in med[b])))
