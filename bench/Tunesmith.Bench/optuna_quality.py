"""Optuna's TPE on the quality suite, run on this machine beside Tunesmith's samplers (bench `quality --optuna-python`).

Prints one JSON line per run: {"function", "sampler", "seed", "best": [best-so-far regret after each trial], "wall"}.
Needs Debian's python3-optuna (3.1, the version the issue's reference figures come from) and the suite's
executable reference, functions.py, found in --reference.
"""
import argparse
import json
import sys
import time
import warnings

parser = argparse.ArgumentParser()
parser.add_argument("--reference", required=True, help="folder holding functions.py")
parser.add_argument("--functions", required=True, help="comma-separated function names")
parser.add_argument("--samplers", required=True, help="comma-separated: tpe (Optuna's default, univariate), tpe_mv")
parser.add_argument("--seeds", required=True, help="comma-separated seeds")
parser.add_argument("--trials", type=int, required=True)
args = parser.parse_args()

sys.path.insert(0, args.reference)
import functions  # noqa: E402  (the suite's executable reference)
import optuna  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def suggest(trial, spec):
    params = {}
    for p in spec["params"]:
        if not functions.is_active(p, params):
            continue
        if p["type"] == "float":
            params[p["name"]] = trial.suggest_float(p["name"], p["low"], p["high"], log=p["log"])
        elif p["type"] == "int":
            params[p["name"]] = trial.suggest_int(p["name"], p["low"], p["high"], log=p["log"], step=p.get("step", 1))
        else:
            params[p["name"]] = trial.suggest_categorical(p["name"], p["choices"])
    return params


for name in args.functions.split(","):
    spec = functions.spec(name)
    evaluate = functions.REGISTRY[name]["fn"]
    for sampler_name in args.samplers.split(","):
        multivariate = sampler_name == "tpe_mv"
        for seed in (int(s) for s in args.seeds.split(",")):
            # As the reference runs: library defaults, plus multivariate and group for tpe_mv.
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate, group=multivariate)
            study = optuna.create_study(sampler=sampler, direction="minimize")
            started = time.perf_counter()
            study.optimize(lambda trial: evaluate(suggest(trial, spec)), n_trials=args.trials)
            wall = time.perf_counter() - started
            best, so_far = [], float("inf")
            for t in study.trials:
                so_far = min(so_far, t.value)
                best.append(so_far - spec["optimum"])
            print(json.dumps({"function": name, "sampler": sampler_name, "seed": seed, "best": best, "wall": wall}), flush=True)
