"""PyTorch DDP (gloo) peer of `orchestrator bench cluster`: one process per rank, started by the harness inside each
emulated node's network namespace (or by hand on loopback), so the gradients cross the same tc-shaped links as ours.
Same models (the example CNN, the MLP), data, global batch, optimizer and threads per rank as our jobs; gradients
plain, or through PyTorch's own compression hooks (fp16_compress_hook, powerSGD_hook).

Throughput mode (default): rank 0 prints one JSON line with the median step time over the measured steps.
Time-to-accuracy mode (--epochs E): full epochs over the training data, each rank its shard of every global batch;
after each epoch rank 0 evaluates the whole test set and prints a JSON line (training seconds so far, evaluation
excluded, and test accuracy); a last line sums up."""
import argparse, json, os, statistics, time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook

from train_throughput import SmallCnn, make_optimizer, read_idx, train_step

# Dataset normalization of our trainer (Fashion-MNIST mean and standard deviation).
MEAN, STD = 0.2860, 0.3530


class Mlp(nn.Module):
    """Mirror of Trainer/Models/Mlp.cs with norm=batch: two hidden layers of 8 x width units, each linear (no bias: the
    norm has one) -> batch norm -> ReLU, then a linear classifier. Width 256: 5,828,618 parameters."""
    def __init__(self, width=256, inputs=28 * 28, classes=10):
        super().__init__()
        hidden = 8 * width
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(inputs, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, classes))

    def forward(self, x):
        return self.layers(x)


def load(root, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
    x = (torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1) - MEAN) / STD
    return x, torch.from_numpy(labels.astype(np.int64))


def build_model(a):
    return Mlp(a.width) if a.model == "mlp" else SmallCnn(a.width)


def register_hook(ddp, a):
    """The gradient hook; returns its state (PowerSGD's counts what it compressed)."""
    if a.hook == "fp16":
        ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)
        return None
    if a.hook == "powersgd":
        # start_powerSGD_iter must exceed 1 with error feedback or warm start (PowerSGDState checks it): the first
        # iterations run plain allreduce, during which DDP rebuilds its buckets once.
        state = powerSGD_hook.PowerSGDState(
            process_group=None, matrix_approximation_rank=a.powersgd_rank, start_powerSGD_iter=a.powersgd_start,
            min_compression_rate=a.powersgd_min_rate, use_error_feedback=not a.no_error_feedback,
            warm_start=not a.no_warm_start, random_seed=a.seed)
        hook = powerSGD_hook.batched_powerSGD_hook if a.powersgd_batched else powerSGD_hook.powerSGD_hook
        ddp.register_comm_hook(state, serialized(hook) if a.serialize_hook else hook)
        return state
    return None


def serialized(hook):
    """The hook, waited for before the next bucket's hook starts. PowerSGD issues its second and third allreduce from
    future callbacks (gloo's threads) while autograd goes on issuing the next bucket's: with several buckets the ranks
    can issue them in different orders, and gloo pairs messages of different sizes."""
    def wrapper(state, bucket):
        result = hook(state, bucket).wait()
        done = torch.futures.Future()
        done.set_result(result)
        return done
    return wrapper


def tx_bytes(iface):
    """Bytes this node's interface has sent (the shaped veth in an emulated node); None without --iface."""
    if not iface:
        return None
    with open(f"/sys/class/net/{iface}/statistics/tx_bytes") as f:
        return int(f.read())


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            correct += model(x[i:i + batch]).argmax(1).eq(y[i:i + batch]).sum().item()
    model.train()
    return correct / len(y)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("--world", type=int, required=True)
    p.add_argument("--master-addr", default="127.0.0.1")
    p.add_argument("--master-port", type=int, default=29531)
    p.add_argument("--iface", default="", help="GLOO_SOCKET_IFNAME: the interface between nodes (eth0 in an emulated node)")
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    p.add_argument("--width", type=int, default=0, help="0 = the model's benchmark width (cnn 32, mlp 256)")
    p.add_argument("--batch", type=int, default=128, help="global batch")
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    p.add_argument("--steps", type=int, default=12, help="throughput mode: steps in all, the first --warmup not measured")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--epochs", type=int, default=0, help="time-to-accuracy mode: epochs to train (0 = throughput mode)")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--hook", choices=["none", "fp16", "powersgd"], default="none")
    p.add_argument("--powersgd-rank", type=int, default=2)
    p.add_argument("--powersgd-start", type=int, default=2, help="plain allreduce before this iteration")
    p.add_argument("--powersgd-min-rate", type=float, default=2.0)
    p.add_argument("--powersgd-batched", action="store_true", help="batched_powerSGD_hook (the whole bucket as one matrix)")
    p.add_argument("--no-error-feedback", action="store_true")
    p.add_argument("--no-warm-start", action="store_true")
    p.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket_cap_mb (ours: compression.bucket_mb 25)")
    p.add_argument("--first-bucket-mb", type=float, default=0.0,
                   help="DDP's first bucket (dist._DEFAULT_FIRST_BUCKET_BYTES, 1 MB unless set); 0 = DDP's default")
    p.add_argument("--serialize-hook", action="store_true", help="wait for each bucket's PowerSGD before the next")
    p.add_argument("--static-graph", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.width == 0:
        a.width = 256 if a.model == "mlp" else 32
    if a.batch % a.world:
        p.error(f"--batch {a.batch} is not a multiple of --world {a.world}")

    if a.iface:
        os.environ["GLOO_SOCKET_IFNAME"] = a.iface
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)  # the same initial weights on every rank (DDP broadcasts rank 0's anyway)
    dist.init_process_group("gloo", init_method=f"tcp://{a.master_addr}:{a.master_port}", rank=a.rank, world_size=a.world)
    model = build_model(a)
    parameters = sum(q.numel() for q in model.parameters())
    if a.first_bucket_mb > 0:
        dist._DEFAULT_FIRST_BUCKET_BYTES = int(a.first_bucket_mb * 1024 * 1024)  # read by DDP's constructor
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=a.bucket_mb, static_graph=a.static_graph)
    state = register_hook(ddp, a)
    opt = make_optimizer(ddp)
    x_train, y_train = load(a.root, "train")
    local = a.batch // a.world
    describe = {"torch": torch.__version__, "model": a.model, "width": a.width, "parameters": parameters, "hook": a.hook,
                "powersgd_rank": a.powersgd_rank if a.hook == "powersgd" else None, "world": a.world,
                "batch": a.batch, "threads": torch.get_num_threads()}

    def step(order, i):
        """Global batch i of the permutation `order`; this rank trains its slice."""
        start = i * a.batch + a.rank * local
        idx = order[start:start + local]
        train_step(ddp, opt, x_train.index_select(0, idx), y_train.index_select(0, idx))

    if a.epochs == 0:
        order = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(a.seed))
        seconds, sent = [], None
        for i in range(a.steps):
            if i == a.warmup:
                dist.barrier()
                sent = tx_bytes(a.iface)
            began = time.perf_counter()
            step(order, i % (len(y_train) // a.batch))
            seconds.append(time.perf_counter() - began)
        dist.barrier()
        measured = seconds[a.warmup:]
        after = tx_bytes(a.iface)
        if a.rank == 0:
            median = statistics.median(measured)
            print(json.dumps({**describe, "step_seconds": median, "samples_per_second": a.batch / median,
                              "measured_steps": len(measured),
                              "bytes_per_step": (after - sent) / len(measured) if sent is not None else None,
                              "compressed_fraction": compressed_fraction(state)}), flush=True)
    else:
        x_test, y_test = load(a.root, "test")
        steps_per_epoch = len(y_train) // a.batch
        trained = 0.0
        for epoch in range(a.epochs):
            order = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(a.seed + epoch))
            dist.barrier()
            began = time.perf_counter()
            for i in range(steps_per_epoch):
                step(order, i)
            dist.barrier()
            trained += time.perf_counter() - began
            if a.rank == 0:
                accuracy = evaluate(ddp.module, x_test, y_test)
                print(json.dumps({**describe, "epoch": epoch + 1, "steps": (epoch + 1) * steps_per_epoch,
                                  "train_seconds": trained, "test_accuracy": accuracy,
                                  "compressed_fraction": compressed_fraction(state)}), flush=True)
            dist.barrier()  # the other ranks wait out the evaluation, off the clock
    dist.destroy_process_group()


def compressed_fraction(state):
    """PowerSGD's elements sent over elements it was given (its own count); None for the other hooks."""
    if state is None or state.total_numel_before_compression == 0:
        return None
    return state.total_numel_after_compression / state.total_numel_before_compression


if __name__ == "__main__":
    main()
