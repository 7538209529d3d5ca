"""Optuna's TPE on the quality suite, run on this machine beside Tunesmith's samplers (bench `quality --optuna-python`).

Prints one JSON line per run: {"function", "sampler", "version", "seed", "best": [best-so-far regret after each trial], "wall"},
plus "branch" (the best trial's branch after each trial) for the hierarchical functions.
Needs Debian's python3-optuna (3.1, the version the issue's reference figures come from) and the suite's
executable reference, functions.py, found in --reference. The hierarchical functions svm, blocks and catheavy are
Tunesmith's own (bench/Tunesmith.Bench/QualityFunctions.cs) and are defined here, the same formulas.
"""
import argparse
import json
import sys
import time
import warnings

parser = argparse.ArgumentParser()
parser.add_argument("--reference", required=True, help="folder holding functions.py")
parser.add_argument("--functions", default="", help="comma-separated function names")
parser.add_argument("--samplers", default="tpe", help="comma-separated: tpe (Optuna's default, univariate), tpe_mv")
parser.add_argument("--seeds", default="0", help="comma-separated seeds")
parser.add_argument("--trials", type=int, default=200)
parser.add_argument("--batch", type=int, default=1,
                    help="workers in lockstep: ask this many trials (constant liar on when > 1), then tell their results")
parser.add_argument("--eval", help="evaluate this function on the configurations (a JSON list) on stdin; print the values (bench check-functions)")
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


import math  # noqa: E402


def sq(x):
    return x * x


def svm(trial):
    kernel = trial.suggest_categorical("kernel", ["linear", "rbf", "sigmoid", "poly"])
    lc = math.log10(trial.suggest_float("C", 1e-3, 1e3, log=True))
    if kernel == "linear":
        return 0.30 + 0.04 * sq(lc - 0.5), kernel
    lg = math.log10(trial.suggest_float("gamma", 1e-4, 10, log=True))
    if kernel == "rbf":
        return 0.14 + 0.05 * sq(lc - 1.5) + 0.12 * sq(lg + 2.5), kernel
    coef0 = trial.suggest_float("coef0", -1, 1)
    if kernel == "sigmoid":
        return 0.20 + 0.05 * sq(lc - 1) + 0.12 * sq(lg + 3) + 0.4 * sq(coef0 + 0.5), kernel
    degree = trial.suggest_int("degree", 2, 5)
    return 0.06 * sq(lc - 2) + 0.15 * sq(lg + 1.5) + 0.5 * sq(coef0 - 0.6) + 0.1 * sq(degree - 3), kernel


def blocks(trial):
    n = trial.suggest_int("layers", 1, 4)
    value = {1: 0.45, 2: 0.25, 3: 0.0}.get(n, 0.10)
    for i in range(n):
        width = trial.suggest_int(f"layers.{i}.width", 16, 512, log=True)
        act = trial.suggest_categorical(f"layers.{i}.act", ["relu", "tanh", "gelu"])
        value += 0.05 * sq(math.log2(width) - (8 - i))
        if act != ("gelu" if i == 0 else "relu"):
            value += 0.15
    return value, str(n)


CAT_MAIN = {"sgd": 0.20, "adam": 0.05, "rmsprop": 0.15, "adagrad": 0.25, "relu": 0.05, "tanh": 0.20, "elu": 0.10, "selu": 0.15,
            "none": 0.15, "batch": 0.0, "layer": 0.05, "he": 0.0, "xavier": 0.05, "normal": 0.10}
CAT_LR = {"sgd": -1, "adam": -3, "rmsprop": -3.5, "adagrad": -2}


def cat_combination(o, a, n, i):
    value = CAT_MAIN[o] + CAT_MAIN[a] + CAT_MAIN[n] + CAT_MAIN[i]
    if a == "selu" and n == "none":
        value -= 0.35
    if a == "selu" and i == "normal":
        value -= 0.15
    if a == "relu" and n == "batch":
        value -= 0.05
    return value


def catheavy(trial):
    o = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
    a = trial.suggest_categorical("activation", ["relu", "tanh", "elu", "selu"])
    n = trial.suggest_categorical("norm", ["none", "batch", "layer"])
    i = trial.suggest_categorical("init", ["he", "xavier", "normal"])
    lr = trial.suggest_float("lr", 1e-5, 1, log=True)
    dropout = trial.suggest_float("dropout", 0, 0.5)
    value = cat_combination(o, a, n, i) + 0.1 * sq(math.log10(lr) - CAT_LR[o]) + 0.5 * sq(dropout - 0.2)
    return value, f"{o}/{a}/{n}/{i}"


CAT_OPTIMUM = min(cat_combination(o, a, n, i) for o in CAT_LR for a in ["relu", "tanh", "elu", "selu"]
                  for n in ["none", "batch", "layer"] for i in ["he", "xavier", "normal"])
OWN = {"svm": (svm, 0.0), "blocks": (blocks, 0.0), "catheavy": (catheavy, CAT_OPTIMUM)}
BRANCH_PARAM = {"mixed": "cat", "conditional": "branch"}


def objective_for(name):
    """A function of a trial returning (value, branch or None), and the optimum."""
    if name in OWN:
        return OWN[name]
    spec = functions.spec(name)
    evaluate = functions.REGISTRY[name]["fn"]

    def objective(trial):
        params = suggest(trial, spec)
        return evaluate(params), (str(params[BRANCH_PARAM[name]]) if name in BRANCH_PARAM else None)
    return objective, spec["optimum"]


if args.eval:
    objective, _ = objective_for(args.eval)
    print(json.dumps([objective(optuna.trial.FixedTrial(params))[0] for params in json.load(sys.stdin)]))
    sys.exit(0)

for name in filter(None, args.functions.split(",")):
    objective, optimum = objective_for(name)
    for sampler_name in args.samplers.split(","):
        multivariate = sampler_name == "tpe_mv"
        for seed in (int(s) for s in args.seeds.split(",")):
            # As the reference runs: library defaults, plus multivariate and group for tpe_mv.
            # With parallel workers (--batch > 1), Optuna's advice for TPE: constant_liar=True.
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate, group=multivariate,
                                                 **({"constant_liar": True} if args.batch > 1 else {}))
            study = optuna.create_study(sampler=sampler, direction="minimize")
            branches = {}
            started = time.perf_counter()
            for first in range(0, args.trials, args.batch):
                # Each trial's parameters are drawn while the ones asked before it in the batch are still running.
                asked = []
                for _ in range(min(args.batch, args.trials - first)):
                    trial = study.ask()
                    value, branches[trial.number] = objective(trial)
                    asked.append((trial, value))
                for trial, value in asked:
                    study.tell(trial, value)
            wall = time.perf_counter() - started
            best, branch_so_far, so_far, at = [], [], float("inf"), None
            for t in study.trials:
                if t.value < so_far:
                    so_far, at = t.value, branches[t.number]
                best.append(so_far - optimum)
                branch_so_far.append(at)
            line = {"function": name, "sampler": sampler_name, "version": optuna.__version__, "seed": seed, "best": best, "wall": wall}
            if at is not None:
                line["branch"] = branch_so_far
            print(json.dumps(line), flush=True)
