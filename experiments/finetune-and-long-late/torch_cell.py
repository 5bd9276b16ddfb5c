#!/usr/bin/env python3
"""Issue 25's independent check: the Q1 `base` cell (pretrain, then plain fine-tuning) re-implemented
in PyTorch from the recipe as PLAN.md and the README state it, not from latephase's code.

    /usr/bin/python3 experiments/finetune-and-long-late/torch_cell.py <split dir> --lr 0.01 --seeds 0,1,2

Same data (the split.js .npy files), the same network (two conv3x3-BN-ReLU-maxpool stages of 16 and
32 channels, a linear head; (x - 0.1307) / 0.3081 inside), He-normal weights, SGD momentum 0.9
Nesterov, L2 5e-4 on weights and BatchNorm scale/shift (not biases), cosine per epoch to lr/50, batch
64 with the last partial batch, a fresh shuffle per epoch. Pretrain 6 epochs at 0.02 on train55k,
fine-tune 3 epochs from it at --lr (fresh momentum). Prints one JSON line per seed and the mean.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32, eps=1e-5, momentum=0.1)
        self.head = nn.Linear(7 * 7 * 32, 10)
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
        nn.init.normal_(self.head.weight, 0.0, math.sqrt(2.0 / (7 * 7 * 32)))
        nn.init.zeros_(self.head.bias)

    def forward(self, x):
        x = ((x - 0.1307) / 0.3081).view(-1, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.head(torch.flatten(x, 1))


def load(split_dir, name):
    x = np.load(os.path.join(split_dir, f"{name}_x.npy")).astype(np.float32) / 255.0
    y = np.load(os.path.join(split_dir, f"{name}_y.npy")).astype(np.int64)
    return torch.from_numpy(x.reshape(len(x), -1)), torch.from_numpy(y)


def cosine(base, epoch, epochs):
    low = base / 50
    return low + 0.5 * (base - low) * (1 + math.cos(math.pi * epoch / epochs))


def train(model, x, y, lr, epochs, generator):
    decay = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, momentum=0.9, nesterov=True)
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = cosine(lr, epoch, epochs)
        model.train()
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), 64):
            idx = order[start:start + 64]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()


@torch.no_grad()
def evaluate(model, x, y, bins=15):
    model.eval()
    probs = torch.cat([F.softmax(model(x[i:i + 1000]), 1) for i in range(0, len(y), 1000)])
    conf, pred = probs.max(1)
    correct = (pred == y).float()
    nll = -torch.log(probs[torch.arange(len(y)), y].clamp_min(1e-12)).mean().item()
    ece = 0.0
    for b in range(bins):
        inside = (conf > b / bins) & (conf <= (b + 1) / bins)
        if inside.any():
            ece += inside.float().mean().item() * abs(conf[inside].mean().item() - correct[inside].mean().item())
    return {"accuracy": correct.mean().item(), "nll": nll, "ece": ece}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("split_dir")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train_x, train_y = load(args.split_dir, "train55k")
    test_x, test_y = load(args.split_dir, "test10k")
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        t = time.time()
        model = MnistCnn()
        train(model, train_x, train_y, 0.02, 6, generator)
        pretrained = evaluate(model, test_x, test_y)
        train(model, train_x, train_y, args.lr, 3, generator)
        row = {"seed": seed, "pretrained": pretrained, "finetuned": evaluate(model, test_x, test_y), "seconds": round(time.time() - t, 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    for which in ("pretrained", "finetuned"):
        for metric in ("accuracy", "nll", "ece"):
            v = np.array([r[which][metric] for r in rows])
            # 95% interval of the mean, Student t (n - 1 degrees of freedom; 4.303 for 3 seeds).
            t95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776}.get(len(v), 1.96)
            half = t95 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
            print(f"{which} {metric}: mean {v.mean():.4f} std {v.std(ddof=1) if len(v) > 1 else 0:.4f} 95% [{v.mean() - half:.4f}, {v.mean() + half:.4f}]")


if __name__ == "__main__":
    main()
