"""PyTorch side of `orchestrator bench train`: the same CNN, data, batch, optimizer and thread count
as the C# trainer, timed over the same number of steps. Prints one JSON line."""
import argparse, gzip, json, os, struct, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class SmallCnn(nn.Module):
    """Mirror of Trainer/Models/SmallCnn.cs with norm=batch."""
    def __init__(self, width=32, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * width)
        self.fc1 = nn.Linear(2 * width * 7 * 7, 128)
        self.classifier = nn.Linear(128, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.norm1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.norm2(self.conv2(x))), 2)
        return self.classifier(F.relu(self.fc1(torch.flatten(x, 1))))


def make_optimizer(model):
    """SGD momentum 0.9, weight decay 5e-4 on weights only (biases and BN parameters are 1-d): the C# rule."""
    decay = [q for q in model.parameters() if q.dim() > 1]
    no_decay = [q for q in model.parameters() if q.dim() <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
                           lr=0.05, momentum=0.9)


def train_step(model, opt, x, y):
    """Forward, backward, update; returns the loss and the logits (for the accuracy both sides report)."""
    opt.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    opt.step()
    return loss, logits


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images = read_idx(os.path.join(a.root, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.root, "train-labels-idx1-ubyte.gz"))
    x_all = (torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1) - 0.2860) / 0.3530
    y_all = torch.from_numpy(labels.astype(np.int64))

    model = SmallCnn()
    opt = make_optimizer(model)
    perm = torch.randperm(len(y_all))

    def step(i):
        idx = perm[(i * a.batch) % (len(perm) - a.batch):][:a.batch]
        x = x_all.index_select(0, idx)
        y = y_all.index_select(0, idx)
        loss, logits = train_step(model, opt, x, y)
        correct = logits.argmax(1).eq(y).sum().item()
        return loss.item(), correct

    for i in range(a.warmup):
        step(i)
    start = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        step(i)
    seconds = time.perf_counter() - start
    print(json.dumps({"samples_per_second": a.steps * a.batch / seconds, "seconds": seconds,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
