"""What parallel workers cost per trial: two `quality` runs of the same seeds, one sequential (--batch 1) and one with
workers in lockstep (--batch K), compared cell by cell (function × budget) for every sampler in both.

usage: python3 parallel_ratios.py BATCH1_DIR BATCHK_DIR   (each holding the runs.csv that `quality --out` writes)
"""
import csv
import math
import statistics
import sys


def load(folder):
    cells = {}
    for row in csv.DictReader(open(f"{folder}/runs.csv")):
        cells.setdefault((row["function"], row["sampler"], int(row["budget"])), []).append(float(row["regret"]))
    return cells


def geometric_mean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


sequential, parallel = load(sys.argv[1]), load(sys.argv[2])
samplers = sorted({k[1] for k in sequential} & {k[1] for k in parallel})
functions = sorted({k[0] for k in sequential})
budgets = sorted({k[2] for k in sequential})
print("| sampler | cells where the parallel median ≤ the sequential one | geometric mean of parallel ÷ sequential median | "
      + " / ".join(map(str, budgets)) + " |")
print("|---|---|---|---|")
for s in samplers:
    ratios, per_budget, not_worse = [], {b: [] for b in budgets}, 0
    for f in functions:
        for b in budgets:
            one, many = statistics.median(sequential[(f, s, b)]), statistics.median(parallel[(f, s, b)])
            not_worse += many <= one
            # A tiny floor: some cells reach regret 0 on both sides.
            r = (many + 1e-12) / (one + 1e-12)
            ratios.append(r)
            per_budget[b].append(r)
    print(f"| {s} | {not_worse}/{len(ratios)} | {geometric_mean(ratios):.2f} | "
          + " / ".join(f"{geometric_mean(per_budget[b]):.2f}" for b in budgets) + " |")
optuna = [s for s in samplers if s.startswith("optuna")]
for name, cells in (("sequential", sequential), ("parallel", parallel)) if optuna else ():
    wins = {s: 0 for s in samplers if not s.startswith("optuna")}
    for f in functions:
        for b in budgets:
            bar = min(statistics.median(cells[(f, o, b)]) for o in optuna)
            for s in wins:
                wins[s] += statistics.median(cells[(f, s, b)]) <= bar
    print(f"- {name}: ≤ Optuna's better TPE run here, cells: " + ", ".join(f"{s} {w}/{len(functions) * len(budgets)}" for s, w in wins.items()))
