"""PyTorch side of `orchestrator bench large-batch-throughput`: the example CNN (w32) or resnet20 (w16) with batch
norm, one process, the given global batch trained whole or as micro-batches whose gradients are summed (loss of each
pass weighted by its share of the rows, one optimizer step per batch), the same data, optimizer and thread count as
the C# trainer. Prints one JSON line with samples/s."""
import argparse, json, os, time

import torch
import torch.nn as nn
import torch.nn.functional as F

from train_throughput import SmallCnn, make_optimizer, read_idx
import numpy as np


class ResidualBlock(nn.Module):
    """Mirror of Trainer/Models/ResidualBlock.cs with norm=batch."""
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(cout)
        self.projection = None
        if stride != 1 or cin != cout:
            self.projection = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        # In place on the norms' outputs, as ours and torchvision's BasicBlock do.
        y = F.relu(self.norm1(self.conv1(x)), inplace=True)
        y = self.norm2(self.conv2(y))
        y += x if self.projection is None else self.projection(x)
        return F.relu(y, inplace=True)


class ResNet(nn.Module):
    """Mirror of Trainer/Models/ResNet.cs (depth 6n+2, linear classifier, norm=batch)."""
    def __init__(self, depth=20, width=16, channels=1, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        layers = [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        cin = width
        for stage in range(3):
            cout = width << stage
            for b in range(n):
                layers.append(ResidualBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, classes)

    def forward(self, x):
        return self.classifier(self.body(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--model", choices=["cnn", "resnet20"], required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--micro", type=int, default=0, help="samples per forward/backward; 0 = the whole batch")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--channels-last", action="store_true",
                   help="model and inputs in torch.channels_last (PyTorch's one-line CPU/GPU layout switch)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images = read_idx(os.path.join(a.root, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.root, "train-labels-idx1-ubyte.gz"))
    x_all = (torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1) - 0.2860) / 0.3530
    y_all = torch.from_numpy(labels.astype(np.int64))

    model = SmallCnn() if a.model == "cnn" else ResNet()
    layout = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    opt = make_optimizer(model)
    perm = torch.randperm(len(y_all))
    micro = a.micro if 0 < a.micro < a.batch else a.batch

    def step(i):
        idx = perm[(i * a.batch) % (len(perm) - a.batch):][:a.batch]
        x = x_all.index_select(0, idx).contiguous(memory_format=layout)
        y = y_all.index_select(0, idx)
        opt.zero_grad()
        for start in range(0, a.batch, micro):
            xs, ys = x[start:start + micro], y[start:start + micro]
            loss = F.cross_entropy(model(xs), ys)
            (loss if micro == a.batch else loss * (len(ys) / a.batch)).backward()
        opt.step()

    for i in range(a.warmup):
        step(i)
    start = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        step(i)
    seconds = time.perf_counter() - start
    print(json.dumps({"samples_per_second": a.steps * a.batch / seconds, "seconds": seconds,
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "channels_last": a.channels_last}))


if __name__ == "__main__":
    main()
