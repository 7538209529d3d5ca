#!/usr/bin/env python3
"""Speed-ups of model-based strategies over ASHA + random from simulator-study JSON files (issue 20, item 4).

For each seed set (a folder of study-*.json written by `Tunesmith.Bench simulator-study`) and the two pooled, prints per
benchmark the ratio of medians (ASHA + random's median time to target / the strategy's; a seed that never reached the
target counts as infinitely late), their geometric and arithmetic means, and a 95 % bootstrap interval of the geometric
mean (2000 resamples; each resample redraws the seeds of every cell independently, fixed seed 1).

usage: simulator_ratios.py DIR [DIR ...] [--strategies bohb,hypertune]  (mobster: --strategies mobster; kept out of the
default list so that the bootstrap draws, and so the intervals, of bohb and hypertune stay those reported before)
"""
import json
import math
import random
import sys

BENCHMARKS = ['lcbench-blood', 'nasbench-nlp', 'yahpo-lcbench:167168', 'yahpo-lcbench:189873', 'yahpo-lcbench:189906']


def load(folder):
    cells = {}
    for b in BENCHMARKS:
        with open(f'{folder}/study-{b.replace(":", "-")}.json') as f:
            for e in json.load(f):
                name = e['scheduler'] if e['scheduler'] == e['sampler'] else f"{e['scheduler']}+{e['sampler']}"
                cells[(b, name)] = [math.inf if r['time_to_target_s'] is None else r['time_to_target_s'] for r in e['runs']]
    return cells


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def geo(ratios):
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def main(argv):
    strategies = ['bohb', 'hypertune']
    if '--strategies' in argv:
        i = argv.index('--strategies')
        strategies = argv[i + 1].split(',')
        argv = argv[:i] + argv[i + 2:]
    sets = [(d, load(d)) for d in argv]
    if len(sets) > 1:
        pooled = {k: sum((cells[k] for _, cells in sets), []) for k in sets[0][1]}
        sets.append(('pooled', pooled))
    rng = random.Random(1)
    for label, cells in sets:
        for s in strategies:
            if (BENCHMARKS[0], s) not in cells:
                continue
            ratios = [median(cells[(b, 'asha+random')]) / median(cells[(b, s)]) for b in BENCHMARKS]
            boot = []
            for _ in range(2000):
                r = []
                for b in BENCHMARKS:
                    a, x = cells[(b, 'asha+random')], cells[(b, s)]
                    r.append(median([rng.choice(a) for _ in a]) / median([rng.choice(x) for _ in x]))
                boot.append(geo(r))
            boot.sort()
            print(f"{label}: {s}: ratios {' '.join(f'{r:.2f}' for r in ratios)}; geometric {geo(ratios):.2f} "
                  f"[{boot[50]:.2f} .. {boot[1949]:.2f}]; arithmetic {sum(ratios) / len(ratios):.2f}")


if __name__ == '__main__':
    main(sys.argv[1:])
