#!/usr/bin/python3
"""Optuna 3.1's pruners on the same tabulated LCBench curves as `tunesmith simulate`, with 8 emulated workers.

Optuna has no virtual clock, so this script emulates one the way Tunesmith's simulator does: an event queue holds the
instant each of 8 workers finishes its current epoch (each epoch costs its recorded epoch_time_s); the earliest event
reports the epoch's value with trial.report(value, epoch) and asks trial.should_prune(); a pruned or finished trial is
told to the study and its worker asks a new trial (study.ask(), so up to 8 trials run at once, as with 8 workers).
The search space is LCBench's seven hyperparameters; a proposed point is replaced by the nearest of the 2000 tabulated
configurations in the unit cube (log parameters in log scale) that this run has not started yet, as in Tunesmith's
simulator (docs/SIMULATOR.md, "No row twice in a run"): Euclidean distance, ties to the lower row, and only when every
row was started the nearest row again. `--repeat-rows` restores the plain nearest row (rows may repeat), which results
before 7 Dec 2026 used. A run stops when the best value reported at any epoch reaches the target (the benchmark's best
value within 1 %), at the simulated time budget, or once --max-trials trials (default 2000, the table's size: every
row once) were started and have ended; a seed that stops without reaching the target counts as never reaching it.

usage: /usr/bin/python3 optuna_simulate.py DATA_DIR --pruner sha|hyperband|none --sampler random|tpe --seeds 20
       [--first-seed 0] [--budget-hours 6] [--workers 8] [--max-trials 2000] [--repeat-rows]   -> one JSON object on stdout
       /usr/bin/python3 optuna_simulate.py DATA_DIR --rows-for PROPOSALS.json [--repeat-rows]
           -> the rows one run's lookup replays for a JSON list of proposals ({name: value} each), in order
"""
import argparse, csv, gzip, heapq, json, math, os, random, sys, time

import numpy as np

SPACE = [  # name, low, high, log, int
    ("batch_size", 16, 512, True, True),
    ("learning_rate", 1e-4, 1e-1, True, False),
    ("momentum", 0.1, 0.99, False, False),
    ("weight_decay", 1e-5, 1e-1, False, False),
    ("num_layers", 1, 4, False, True),
    ("max_units", 64, 1024, True, True),
    ("max_dropout", 0.0, 1.0, False, False),
]


def unit(value, low, high, log, is_int):
    if is_int:  # the same cells as Tunesmith's IntDistribution.ToUnit
        lo, hi = (math.log(max(low - 0.5, 0.5)), math.log(high + 0.5)) if log else (low - 0.5, high + 0.5)
        return ((math.log(value) if log else value) - lo) / (hi - lo)
    if log:
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def load(data_dir):
    rows = {}
    with gzip.open(os.path.join(data_dir, "lcbench_blood_transfusion_curves.csv.gz"), "rt") as f:
        for r in csv.DictReader(f):
            rows.setdefault(int(r["config_id"]), []).append(r)
    n = len(rows)
    points = np.zeros((n, len(SPACE)))
    values, seconds = [], []
    for cid in range(n):
        curve = sorted(rows[cid], key=lambda r: int(r["epoch"]))
        points[cid] = [unit(float(curve[0][name]), lo, hi, log, i) for name, lo, hi, log, i in SPACE]
        values.append([float(r["val_accuracy"]) for r in curve])
        seconds.append([max(float(r["epoch_time_s"]), 1e-3) for r in curve])
    return points, values, seconds


class RowLookup:
    """The table row a new trial of one run replays: the nearest row not started yet in this run (ties to the lower row),
    or with repeat=True (or once every row was started) the nearest row."""

    def __init__(self, points, repeat=False):
        self.points, self.repeat = points, repeat
        self.started = np.zeros(len(points), dtype=bool)
        self.count = 0

    def row(self, query):
        distance = ((self.points - np.asarray(query, dtype=float)) ** 2).sum(axis=1)
        if not self.repeat and self.count < len(self.points):
            distance[self.started] = np.inf
        row = int(np.argmin(distance))
        if not self.started[row]:
            self.started[row] = True
            self.count += 1
        return row


def simulate(points, values, seconds, pruner_name, sampler_name, seed, workers, budget, target, max_trials=2000, repeat_rows=False):
    import optuna  # here, so that --rows-for needs numpy only
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.RandomSampler(seed=seed) if sampler_name == "random" else optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    pruner = {
        "sha": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=50, reduction_factor=3),
        "none": lambda: optuna.pruners.NopPruner(),
    }[pruner_name]()
    # A fixed study name: HyperbandPruner draws each trial's bracket from a hash of the study name and trial number, so
    # Optuna's default (a random name) would make Hyperband runs differ from one invocation to the next.
    study = optuna.create_study(study_name=f"lcbench-blood-seed-{seed}", direction="maximize", sampler=sampler, pruner=pruner)
    lookup = RowLookup(points, repeat_rows)

    def start(now, worker):
        trial = study.ask()
        x = [trial.suggest_int(n, lo, hi, log=log) if i else trial.suggest_float(n, lo, hi, log=log) for n, lo, hi, log, i in SPACE]
        cid = lookup.row([unit(v, lo, hi, log, i) for v, (n, lo, hi, log, i) in zip(x, SPACE)])
        state = {"trial": trial, "config": cid, "epoch": 0}
        heapq.heappush(queue, (now + seconds[cid][0], worker))
        return state

    queue, running = [], {}
    best, time_to_target, started, pruned, capped, wall = -math.inf, None, 0, 0, False, time.time()
    for w in range(workers):
        running[w] = start(0.0, w)
        started += 1
    while queue:
        now, w = heapq.heappop(queue)
        if now > budget:
            break
        run = running[w]
        cid, e = run["config"], run["epoch"]
        value = values[cid][e]
        run["epoch"] = e + 1
        if value > best:
            best = value
            if time_to_target is None and best >= target:
                time_to_target = now
                break
        trial = run["trial"]
        if run["epoch"] == len(values[cid]):
            study.tell(trial, value)
        else:
            trial.report(value, run["epoch"])
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                pruned += 1
            else:
                heapq.heappush(queue, (now + seconds[cid][run["epoch"]], w))
                continue
        if started >= max_trials:  # no new trial; the ones still running go on
            capped = True
            continue
        running[w] = start(now, w)
        started += 1
    return {"seed": seed, "best": best, "time_to_target_s": time_to_target, "trials_started": started, "trials_stopped": pruned,
            "distinct_rows": lookup.count, "stopped_at_trial_cap": capped and time_to_target is None, "wall_s": round(time.time() - wall, 1)}


def median_of(values):
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--pruner", default="sha")
    p.add_argument("--sampler", default="random")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--budget-hours", type=float, default=6)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--max-trials", type=int, default=2000)
    p.add_argument("--repeat-rows", action="store_true")
    p.add_argument("--rows-for")
    a = p.parse_args()
    points, values, seconds = load(a.data)
    if a.rows_for:
        with open(a.rows_for) as f:
            proposals = json.load(f)
        lookup = RowLookup(points, a.repeat_rows)
        print(json.dumps([lookup.row([unit(float(x[n]), lo, hi, log, i) for n, lo, hi, log, i in SPACE]) for x in proposals]))
        return 0
    best = max(max(v) for v in values)
    target = best - 0.01 * abs(best)
    runs, cpu = [], time.process_time()
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        runs.append(simulate(points, values, seconds, a.pruner, a.sampler, seed, a.workers, a.budget_hours * 3600, target, a.max_trials, a.repeat_rows))
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    times = [r["time_to_target_s"] if r["time_to_target_s"] is not None else math.inf for r in runs]
    median = median_of(times)
    # A 95 % bootstrap interval of the median, as Tunesmith reports it (2000 resamples; a never is infinitely late).
    resample = random.Random(12345)
    medians = sorted(median_of([resample.choice(times) for _ in times]) for _ in range(2000))
    low, high = medians[int(0.025 * 1999)], medians[int(0.975 * 1999)]
    import optuna
    print(json.dumps({
        "benchmark": "lcbench-blood", "metric": "val_accuracy", "direction": "maximize", "target": target, "workers": a.workers,
        "time_budget_s": a.budget_hours * 3600, "optuna": optuna.__version__, "pruner": a.pruner, "sampler": a.sampler,
        "max_trials": a.max_trials, "lookup": "nearest row" if a.repeat_rows else "nearest row not started yet",
        "runs": runs, "median_time_to_target_s": median if math.isfinite(median) else None,
        "interval_low_s": low if math.isfinite(low) else None, "interval_high_s": high if math.isfinite(high) else None,
        "reached": sum(r["time_to_target_s"] is not None for r in runs), "cpu_s": round(time.process_time() - cpu, 1),
    }, indent=1))


if __name__ == "__main__":
    sys.exit(main())
