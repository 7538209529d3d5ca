#!/usr/bin/env python3
"""A trainer written for Katib's StdOut metrics collector: flags in, 'name=value' lines out, no Tunesmith protocol.

A stand-in for a real model (a smooth function of the hyperparameters plus a learning curve), so that the example
runs in seconds with the Python standard library only.
"""
import argparse
import math
import sys

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--num-layers", type=int, required=True)
p.add_argument("--optimizer", required=True)
p.add_argument("--epochs", type=int, default=8)
a = p.parse_args()
print(f"Namespace(lr={a.lr}, num_layers={a.num_layers}, optimizer={a.optimizer})")  # not a report: no accuracy on it
if a.optimizer == "ftrl" and a.lr > 0.025:
    print("loss is nan: diverged", file=sys.stderr)
    sys.exit(3)
ceiling = {"adam": 0.995, "sgd": 0.96, "ftrl": 0.92}[a.optimizer] - 0.01 * abs(a.num_layers - 3) - 3 * abs(a.lr - 0.02)
for epoch in range(1, a.epochs + 1):
    accuracy = ceiling * (1 - math.exp(-epoch / 2.0))
    print(f"epoch {epoch}: accuracy={accuracy:.4f} loss={1.05 - accuracy:.4f}", flush=True)
