"""PyTorch peer for latephase's benchmarks: the same models, batch and optimizer, timed in the same run.

Debian's python3-torch (1.13, oneDNN) is an independent peer, never a runtime dependency.
Usage: python3 bench/torch_peer.py --threads 1 --repeats 30 --warmup 10 [--cases a,b]
Prints one JSON object: {"torch": version, "threads": n, "results": {name: median_ms},
"peak_rss_mb": the process's peak resident set (run one case alone to read it for that case)}.
With --serve it stays up and answers one JSON line per request line {"case", "threads"} on stdin
(first line out: {"torch": version}), so that bench/run.ts can alternate rounds of its own steps
and the peer's in one time window: on a shared machine a neighbour's burst then slows one round of
each side, not one side of a row.
Each step gathers a fresh minibatch from a synthetic training set by index, as latephase's
trainer does (bench/timing.ts), so both sides pay for the gather.
The peer runs the way a PyTorch user who cares about CPU speed runs it: gradients set to None
rather than zeroed (PyTorch 2's default), and image models timed in both memory formats, NCHW and
channels_last, the faster one reported ("layouts" in the JSON gives both).
"""
import resource
import sys
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def bench_cnn():
    # conv3x3 1->32, maxpool, conv3x3 32->64, BN, global average pool, dense 10 (ReLUs after the convs)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def mlp():
    return nn.Sequential(
        nn.Linear(784, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))


class Block(nn.Module):
    """Pre-activation WRN block, as latephase's models/wideResNet.ts."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return out + (x if self.shortcut is None else self.shortcut(a))


def wrn(depth, widen, classes=10):
    n = (depth - 4) // 6
    widths = [16, 16 * widen, 32 * widen, 64 * widen]
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)]
    for g in range(3):
        for b in range(n):
            layers.append(Block(widths[g] if b == 0 else widths[g + 1], widths[g + 1], 2 if b == 0 and g > 0 else 1))
    layers += [nn.BatchNorm2d(widths[3]), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[3], classes)]
    return nn.Sequential(*layers)


CASES = {
    "bench-cnn-b32": (bench_cnn, (32, 1, 28, 28)),
    "bench-cnn-b128": (bench_cnn, (128, 1, 28, 28)),
    "wrn-16-4-b64": (lambda: wrn(16, 4), (64, 3, 32, 32)),
    "mlp-b128": (mlp, (128, 784)),
}


def time_steps(make, shape, repeats, warmup=3, channels_last=False):
    torch.manual_seed(0)
    model = make()
    model.train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    batch, steps = shape[0], warmup + repeats
    data_x = torch.rand(batch * steps, *shape[1:])
    if channels_last:
        data_x = data_x.contiguous(memory_format=torch.channels_last)
    data_y = torch.randint(0, 10, (batch * steps,))
    order = torch.randperm(batch * steps)
    times = []
    for i in range(steps):
        start = time.perf_counter()
        idx = order[i * batch:(i + 1) * batch]
        x, y = data_x.index_select(0, idx), data_y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(name, repeats, warmup):
    """Median step time (ms) of a case in each layout, and the faster."""
    make, shape = CASES[name]
    # WRN steps take seconds: fewer of them (as in bench/run.ts).
    counts = (5, 3) if name.startswith("wrn") else (repeats, warmup)
    layouts = {"nchw": time_steps(make, shape, *counts)}
    if len(shape) == 4:
        layouts["channels_last"] = time_steps(make, shape, *counts, channels_last=True)
    return min(layouts.values()), layouts


def serve(args):
    print(json.dumps({"torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        torch.set_num_threads(int(request["threads"]))
        best, layouts = measure(request["case"], args.repeats, args.warmup)
        print(json.dumps({"case": request["case"], "threads": torch.get_num_threads(), "ms": best, "layouts": layouts}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    torch.set_num_threads(args.threads)
    results, layouts = {}, {}
    for name in args.cases.split(","):
        results[name], layouts[name] = measure(name, args.repeats, args.warmup)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "results": results, "layouts": layouts, "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main()
