"""Optuna's pruners on fixed learning curves, for `Tunesmith.Bench pruner-parity`.

Reads a JSON file {"sets": {name: {"direction": "minimize"|"maximize", "curves": [[[step, value], ...], ...]}},
"cases": [{"name": ..., "set": ..., "pruner": {"kind": "median"|"percentile"|"sh"|"hyperband", ...}}]} and, for each
case, runs one study with one worker: trial i reports curve i's values in order (trial.report(value, step), then
should_prune()), and returns its last value. Prints one JSON line per case: every trial's state, last step and, for
Hyperband, its bracket.
"""

import json
import sys
import time

import optuna


def make_pruner(p):
    kind = p["kind"]
    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=p["n_startup_trials"], n_warmup_steps=p["n_warmup_steps"], interval_steps=p["interval_steps"])
    if kind == "percentile":
        return optuna.pruners.PercentilePruner(
            p["percentile"], n_startup_trials=p["n_startup_trials"], n_warmup_steps=p["n_warmup_steps"],
            interval_steps=p["interval_steps"])
    if kind == "sh":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=p["min_resource"], reduction_factor=p["reduction_factor"],
            min_early_stopping_rate=p["min_early_stopping_rate"])
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=p["min_resource"], max_resource=p["max_resource"], reduction_factor=p["reduction_factor"])
    raise ValueError("unknown pruner kind " + kind)


def run_case(case, data):
    curves = data["curves"]
    pruner = make_pruner(case["pruner"])
    study = optuna.create_study(study_name="parity", direction=data["direction"], pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        curve = curves[trial.number]
        for step, value in curve:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return curve[-1][1]

    start = time.perf_counter()
    study.optimize(objective, n_trials=len(curves))
    seconds = time.perf_counter() - start
    trials = []
    for t in study.get_trials(deepcopy=False):
        row = {"state": t.state.name, "last_step": t.last_step}
        if case["pruner"]["kind"] == "hyperband":
            row["bracket"] = pruner._get_bracket_id(study, t)
        trials.append(row)
    return {"case": case["name"], "optuna": optuna.__version__, "seconds": seconds, "trials": trials}


def main():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    for case in spec["cases"]:
        print(json.dumps(run_case(case, spec["sets"][case["set"]])), flush=True)


if __name__ == "__main__":
    main()
