"""PyTorch side of `orchestrator bench inference --scenario offline --pytorch`: the same CNN (train_throughput.SmallCnn,
norm=batch, eval mode, weights as initialised: the speed does not depend on them), the same test images, forwards of
the same batch over the same number of samples drawn with repetition, the same thread count. Prints one JSON line."""
import argparse, json, os, sys, time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_throughput import SmallCnn, read_idx  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--samples", type=int, required=True)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images = read_idx(os.path.join(a.root, "t10k-images-idx3-ubyte.gz"))
    x_all = (torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1) - 0.2860) / 0.3530
    indices = torch.randint(0, len(x_all), (a.samples,))
    model = SmallCnn(a.width).eval()
    with torch.no_grad():
        for _ in range(3):  # warm-up, as ours
            model(x_all[:a.batch])
        start = time.perf_counter()
        for begin in range(0, a.samples, a.batch):
            model(x_all.index_select(0, indices[begin:begin + a.batch])).argmax(1)
        seconds = time.perf_counter() - start
    print(json.dumps({"samples_per_second": a.samples / seconds, "seconds": seconds, "samples": a.samples,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
