#!/usr/bin/env python3
"""Trains a PyTorch MLP on scikit-learn's bundled 8x8 handwritten digits and reports validation accuracy and macro-F1.

Needs Debian's python3-torch and python3-sklearn (the digits data ship inside scikit-learn: nothing is downloaded).
Runs on the CPU unless CUDA_VISIBLE_DEVICES names a GPU (Tunesmith sets it from its GPU pool when the study file asks
for `resources: { gpus_per_trial: ... }`). Prints `tunesmith:report {...}` after each epoch and `tunesmith:result {...}`
at the end; nothing else here is Tunesmith-specific.
"""
import argparse
import json
import os

import torch
from sklearn.datasets import load_digits
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split


def pick_device():
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible and visible != "-1" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def build_model(hidden, layers, dropout):
    modules, width = [], 64
    for _ in range(layers):
        modules += [torch.nn.Linear(width, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
        width = hidden
    modules.append(torch.nn.Linear(width, 10))
    return torch.nn.Sequential(*modules)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("TUNESMITH_TRIAL_NUMBER", "0")))
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ.get("TRAIN_THREADS", "1")))  # one core per trial: `parallel` decides the rest
    device = pick_device()

    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.25, stratify=digits.target, random_state=0)
    x_train = torch.tensor(x_train, dtype=torch.float32, device=device)
    y_train = torch.tensor(y_train, dtype=torch.long, device=device)
    x_val = torch.tensor(x_val, dtype=torch.float32, device=device)

    model = build_model(args.hidden, args.layers, args.dropout).to(device)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()

    n = x_train.shape[0]
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(n, device=device)
        total = 0.0
        for start in range(0, n, args.batch_size):
            idx = order[start:start + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
        model.eval()
        with torch.no_grad():
            predicted = model(x_val).argmax(dim=1).cpu().numpy()
        accuracy = float((predicted == y_val).mean())
        f1 = float(f1_score(y_val, predicted, average="macro"))
        print("tunesmith:report " + json.dumps({"step": epoch, "val_f1": round(f1, 5), "val_accuracy": round(accuracy, 5),
                                                "train_loss": round(total / n, 5)}), flush=True)

    print("tunesmith:result " + json.dumps({"val_f1": round(f1, 5), "val_accuracy": round(accuracy, 5)}), flush=True)


if __name__ == "__main__":
    main()
