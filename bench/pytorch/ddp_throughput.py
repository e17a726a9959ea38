"""PyTorch DDP (gloo) side of `orchestrator bench train --workers N`: the same CNN, data, global batch,
optimizer and threads per rank as the C# workers, timed over the same steps. Rank 0 prints one JSON line."""
import argparse, datetime, json, os, shutil, tempfile, time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from train_throughput import SmallCnn, make_optimizer, read_idx, train_step

import numpy as np


def worker(rank, a):
    # Rendezvous through a file (no fixed port another process may hold), gloo on loopback only, and a bounded wait:
    # a rank that never joins is an error with a message, not a hang.
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{a.rendezvous}", rank=rank, world_size=a.workers,
                            timeout=datetime.timedelta(seconds=a.timeout))
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images = read_idx(os.path.join(a.root, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.root, "train-labels-idx1-ubyte.gz"))
    x_all = (torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1) - 0.2860) / 0.3530
    y_all = torch.from_numpy(labels.astype(np.int64))
    model = torch.nn.parallel.DistributedDataParallel(SmallCnn())
    opt = make_optimizer(model)
    g = torch.Generator().manual_seed(a.seed)
    perm = torch.randperm(len(y_all), generator=g)
    local = a.batch // a.workers

    def step(i):
        start = (i * a.batch) % (len(perm) - a.batch) + rank * local
        idx = perm[start:start + local]
        x = x_all.index_select(0, idx)
        y = y_all.index_select(0, idx)
        loss, logits = train_step(model, opt, x, y)
        stats = torch.tensor([loss.item() * len(y), logits.argmax(1).eq(y).sum().item(), len(y)], dtype=torch.float64)
        dist.all_reduce(stats)  # the same global loss/accuracy bookkeeping the C# workers do

    for i in range(a.warmup):
        step(i)
    dist.barrier()
    start = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        step(i)
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        print(json.dumps({"samples_per_second": a.steps * a.batch / seconds, "seconds": seconds,
                          "torch": torch.__version__, "workers": a.workers, "threads": a.threads}), flush=True)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, required=True, help="torch threads per rank")
    p.add_argument("--batch", type=int, default=256, help="global batch")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=int, default=120, help="seconds a collective (and the rendezvous) may wait")
    a = p.parse_args()
    directory = tempfile.mkdtemp(prefix="ddp-throughput-")
    a.rendezvous = os.path.join(directory, "rendezvous")
    try:
        mp.spawn(worker, args=(a,), nprocs=a.workers, join=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
