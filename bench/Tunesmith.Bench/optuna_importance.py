"""Optuna 3.1's parameter importances (fANOVA, its default, and mean decrease in impurity) on trials given as JSON.

stdin: {"direction": "minimize", "space": {name: {"type": "float"|"int"|"categorical", "low", "high", "log", "choices"}},
        "trials": [{"params": {...}, "value": v}]}
stdout: {"fanova": {name: share}, "mdi": {name: share}, "optuna": version}
"""
import json
import sys

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.importance import FanovaImportanceEvaluator, MeanDecreaseImpurityImportanceEvaluator

optuna.logging.set_verbosity(optuna.logging.ERROR)
data = json.load(sys.stdin)
dists = {}
for name, d in data["space"].items():
    if d["type"] == "float":
        dists[name] = FloatDistribution(d["low"], d["high"], log=d.get("log", False))
    elif d["type"] == "int":
        dists[name] = IntDistribution(int(d["low"]), int(d["high"]), log=d.get("log", False))
    else:
        dists[name] = CategoricalDistribution(d["choices"])
study = optuna.create_study(direction=data["direction"])
for t in data["trials"]:
    study.add_trial(optuna.trial.create_trial(params=t["params"], distributions={k: dists[k] for k in t["params"]}, value=t["value"]))
out = {
    "fanova": optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0)),
    "mdi": optuna.importance.get_param_importances(study, evaluator=MeanDecreaseImpurityImportanceEvaluator(seed=0)),
    "optuna": optuna.__version__,
}
json.dump(out, sys.stdout)
