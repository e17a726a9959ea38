"""PyTorch side of the GPU check (bench/gpu/gpu-check.sh): the example CNN (w32) with ghost batch norm (ghost 64) on the
same Fashion-MNIST subset, batch, optimizer and device as our `train`, timed over whole epochs after one warm-up epoch.
Prints one JSON line with samples/s."""
import argparse, json, os, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from train_throughput import SmallCnn, read_idx  # noqa: E402


class GhostBatchNorm2d(nn.BatchNorm2d):
    """Batch norm over consecutive chunks of `ghost` rows, running statistics updated chunk after chunk (our GBN's rule)."""
    def __init__(self, channels, ghost):
        super().__init__(channels)
        self.ghost = ghost

    def forward(self, x):
        if not self.training or x.shape[0] <= self.ghost:
            return super().forward(x)
        return torch.cat([super(GhostBatchNorm2d, self).forward(c) for c in x.split(self.ghost)], 0)


def cnn_with_ghost_batch_norm(ghost):
    """The example CNN (bench/pytorch/train_throughput.py's mirror of SmallCnn, w32) with its norms made ghost."""
    model = SmallCnn(32)
    model.norm1, model.norm2 = GhostBatchNorm2d(32, ghost), GhostBatchNorm2d(64, ghost)
    return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--ghost", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    a = p.parse_args()

    torch.manual_seed(1)
    images = read_idx(os.path.join(a.root, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.root, "train-labels-idx1-ubyte.gz"))
    x_all = ((torch.tensor(images, dtype=torch.float32) / 255.0).unsqueeze(1) - 0.2860) / 0.3530
    y_all = torch.tensor(labels, dtype=torch.int64)
    x_all, y_all = x_all.to(a.device), y_all.to(a.device)
    model = cnn_with_ghost_batch_norm(a.ghost).to(a.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    steps = len(y_all) // a.batch

    def epoch():
        perm = torch.randperm(len(y_all), device=a.device)
        for s in range(steps):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            opt.zero_grad(set_to_none=False)
            F.cross_entropy(model(x_all[idx]), y_all[idx]).backward()
            opt.step()

    epoch()
    if a.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(a.epochs):
        epoch()
    if a.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(json.dumps({"samples_per_second": a.epochs * steps * a.batch / seconds, "seconds": seconds, "device": a.device,
                      "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if a.device.startswith("cuda") else None}))


if __name__ == "__main__":
    main()
