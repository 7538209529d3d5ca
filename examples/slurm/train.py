"""A trial program that survives Slurm time limits: it checkpoints every epoch and on SIGTERM, and resumes from its
checkpoint when Tunesmith runs it again in the same trial directory (after a requeue). Standard library only.

It fits y = a*x + b by gradient descent on synthetic data; the learning rate and batch size are the hyperparameters.
"""
import json, os, random, signal, sys, time

trial_dir = os.environ["TUNESMITH_TRIAL_DIR"]
params = json.loads(os.environ["TUNESMITH_PARAMS"])
lr, batch, epochs = params["lr"], params["batch"], params["epochs"]
checkpoint = os.path.join(trial_dir, "checkpoint.json")
seconds_per_epoch = float(os.environ.get("EPOCH_SECONDS", "2"))

state = {"epoch": 0, "a": 0.0, "b": 0.0}
if os.path.exists(checkpoint):
    state = json.load(open(checkpoint))
    print(f"resuming from epoch {state['epoch']}", flush=True)

def save():
    tmp = checkpoint + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, checkpoint)  # atomic: a kill mid-write leaves the old checkpoint

stopping = False

def on_sigterm(*_):
    # Tunesmith forwards SIGTERM when the job nears its time limit (or is cancelled). The handler only takes note; the
    # loop saves and leaves at its next batch, well within the grace period. Saving or printing in the handler itself
    # is fragile: under Slurm a second SIGTERM (scancel's own, beside the worker's) runs it again inside the first.
    global stopping
    stopping = True

def leave_if_stopping():
    if stopping:
        save()
        print(f"checkpointed at epoch {state['epoch']}", flush=True)
        sys.exit(0)

signal.signal(signal.SIGTERM, on_sigterm)

rng = random.Random(0)
data = [(x, 3.0 * x - 1.0 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(512))]

def loss():
    return sum((state["a"] * x + state["b"] - y) ** 2 for x, y in data) / len(data)

while state["epoch"] < epochs:
    rng.shuffle(data)
    for i in range(0, len(data), batch):
        leave_if_stopping()
        chunk = data[i:i + batch]
        ga = sum(2 * (state["a"] * x + state["b"] - y) * x for x, y in chunk) / len(chunk)
        gb = sum(2 * (state["a"] * x + state["b"] - y) for x, y in chunk) / len(chunk)
        state["a"] -= lr * ga
        state["b"] -= lr * gb
    state["epoch"] += 1
    save()
    print("tunesmith:report " + json.dumps({"step": state["epoch"], "loss": loss()}), flush=True)
    time.sleep(seconds_per_epoch)  # stands in for real work
    leave_if_stopping()

print("tunesmith:result " + json.dumps({"loss": loss()}))
