#!/usr/bin/env python3
"""Trains a one-hidden-layer neural network on the Wine data set with the Python standard library only.

Tunesmith runs this script once per trial with the trial's hyperparameters as flags. The only Tunesmith-specific
code is the two kinds of printed lines: `tunesmith:report {...}` after every epoch (intermediate values that
schedulers and the live view use) and `tunesmith:result {...}` at the end (the trial's final metrics).
"""
import argparse
import csv
import json
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def load_wine(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    features = [k for k in rows[0] if k != "class"]
    x = [[float(r[k]) for k in features] for r in rows]
    y = [int(r["class"]) for r in rows]
    return x, y


def split(x, y, val_fraction, seed):
    """A stratified split, the same for every trial (seeded), so that trials are compared on the same data."""
    rng = random.Random(seed)
    train, val = [], []
    for c in sorted(set(y)):
        idx = [i for i, label in enumerate(y) if label == c]
        rng.shuffle(idx)
        k = int(round(len(idx) * val_fraction))
        val += idx[:k]
        train += idx[k:]
    return train, val


def standardize(x, train_idx):
    n = len(train_idx)
    cols = len(x[0])
    mean = [sum(x[i][j] for i in train_idx) / n for j in range(cols)]
    std = [math.sqrt(sum((x[i][j] - mean[j]) ** 2 for i in train_idx) / n) or 1.0 for j in range(cols)]
    return [[(row[j] - mean[j]) / std[j] for j in range(cols)] for row in x]


class Mlp:
    """input -> tanh hidden layer -> softmax over classes."""

    def __init__(self, n_in, n_hidden, n_out, rng):
        s1, s2 = 1 / math.sqrt(n_in), 1 / math.sqrt(n_hidden)
        self.w1 = [[rng.uniform(-s1, s1) for _ in range(n_in)] for _ in range(n_hidden)]
        self.b1 = [0.0] * n_hidden
        self.w2 = [[rng.uniform(-s2, s2) for _ in range(n_hidden)] for _ in range(n_out)]
        self.b2 = [0.0] * n_out

    def params(self):
        return [self.w1, self.b1, self.w2, self.b2]

    def forward(self, row):
        h = [math.tanh(sum(w * v for w, v in zip(ws, row)) + b) for ws, b in zip(self.w1, self.b1)]
        z = [sum(w * v for w, v in zip(ws, h)) + b for ws, b in zip(self.w2, self.b2)]
        m = max(z)
        e = [math.exp(v - m) for v in z]
        s = sum(e)
        return h, [v / s for v in e]

    def gradients(self, batch, x, y):
        """Mean cross-entropy gradients over a mini-batch, shaped like params()."""
        g1 = [[0.0] * len(self.w1[0]) for _ in self.w1]
        gb1 = [0.0] * len(self.b1)
        g2 = [[0.0] * len(self.w2[0]) for _ in self.w2]
        gb2 = [0.0] * len(self.b2)
        for i in batch:
            h, p = self.forward(x[i])
            dz = [pk - (1.0 if k == y[i] else 0.0) for k, pk in enumerate(p)]
            for k, d in enumerate(dz):
                gb2[k] += d
                row = g2[k]
                for j, hj in enumerate(h):
                    row[j] += d * hj
            for j, hj in enumerate(h):
                dh = sum(dz[k] * self.w2[k][j] for k in range(len(dz))) * (1 - hj * hj)
                gb1[j] += dh
                row = g1[j]
                for t, v in enumerate(x[i]):
                    row[t] += dh * v
        n = len(batch)
        return [[[v / n for v in r] for r in g1], [v / n for v in gb1], [[v / n for v in r] for r in g2], [v / n for v in gb2]]


class Optimizer:
    """sgd (with optional momentum) or adam, over nested lists of parameters."""

    def __init__(self, kind, lr, momentum):
        self.kind, self.lr, self.momentum = kind, lr, momentum
        self.state = {}
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        for pi, (p, g) in enumerate(zip(params, grads)):
            rows = p if isinstance(p[0], list) else [p]
            grows = g if isinstance(g[0], list) else [g]
            for ri, (r, gr) in enumerate(zip(rows, grows)):
                key = (pi, ri)
                if self.kind == "adam":
                    m, v = self.state.setdefault(key, ([0.0] * len(r), [0.0] * len(r)))
                    for j, gj in enumerate(gr):
                        m[j] = 0.9 * m[j] + 0.1 * gj
                        v[j] = 0.999 * v[j] + 0.001 * gj * gj
                        mh = m[j] / (1 - 0.9 ** self.t)
                        vh = v[j] / (1 - 0.999 ** self.t)
                        r[j] -= self.lr * mh / (math.sqrt(vh) + 1e-8)
                else:
                    vel = self.state.setdefault(key, [0.0] * len(r))
                    for j, gj in enumerate(gr):
                        vel[j] = self.momentum * vel[j] + gj
                        r[j] -= self.lr * vel[j]


def evaluate(model, idx, x, y):
    loss, correct = 0.0, 0
    for i in idx:
        _, p = model.forward(x[i])
        loss -= math.log(max(p[y[i]], 1e-12))
        correct += max(range(len(p)), key=p.__getitem__) == y[i]
    return loss / len(idx), correct / len(idx)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--data", default=os.path.join(HERE, "data", "wine.csv"))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("TUNESMITH_TRIAL_NUMBER", "0")))
    args = ap.parse_args()

    x, y = load_wine(args.data)
    train, val = split(x, y, val_fraction=0.3, seed=42)
    x = standardize(x, train)
    rng = random.Random(args.seed)
    model = Mlp(len(x[0]), args.hidden, len(set(y)), rng)
    opt = Optimizer(args.optimizer, args.lr, args.momentum)

    for epoch in range(1, args.epochs + 1):
        order = train[:]
        rng.shuffle(order)
        for b in range(0, len(order), args.batch_size):
            batch = order[b:b + args.batch_size]
            opt.step(model.params(), model.gradients(batch, x, y))
        val_loss, val_acc = evaluate(model, val, x, y)
        if not math.isfinite(val_loss):
            raise SystemExit(f"diverged at epoch {epoch} (lr={args.lr})")
        print("tunesmith:report " + json.dumps({"step": epoch, "val_loss": round(val_loss, 6), "val_accuracy": round(val_acc, 4)}), flush=True)

    train_loss, train_acc = evaluate(model, train, x, y)
    print("tunesmith:result " + json.dumps({"val_loss": round(val_loss, 6), "val_accuracy": round(val_acc, 4),
                                            "train_loss": round(train_loss, 6)}), flush=True)


if __name__ == "__main__":
    main()
