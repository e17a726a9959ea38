#!/usr/bin/env bash
# The GPU check (issue 14 item 8), in two halves:
#
#   here (any machine with this repo built):  bench/gpu/gpu-check.sh pack [TORCHSHARP_GIT_DIR]
#     packs into .gpu/ (git-ignored, < 64 MiB): the CLI published framework-dependent without libtorch and without the
#     Orleans dashboard (so without ASP.NET Core), the .NET runtime, TorchSharp's native sources (LibTorchSharp) at the
#     version the CLI references (from a clone or mirror of dotnet/TorchSharp; never committed), MPICH's libraries and
#     Hydra, and a Fashion-MNIST subset.
#   on the lent GPU machine (the `device` tool's run, carry [".gpu"], timeout 540):  bash bench/gpu/gpu-check.sh run
#     builds libLibTorchSharp.so against that machine's PyTorch (libtorch with CUDA), trains the example CNN with ghost
#     batch norm on the GPU (1 process, then 2 ranks under mpiexec averaging 2:4+int8 gradients on the device), runs
#     the same model in PyTorch on the same GPU, and prints samples/s side by side; logs and summaries go to $OUT.
#
#   bench/gpu/gpu-check.sh rehearse   runs the "run" half here on the CPU, with the CPU libtorch of the NuGet cache and
#     TorchSharp's prebuilt LibTorchSharp instead of building one (everything but the GPU and the native build).
set -euo pipefail

repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
pack="$repo/.gpu"
torchsharp_version=0.107.0
limit_mib=60

die() { echo "gpu-check: $*" >&2; exit 1; }

# Every shared library a program or library needs beyond glibc's own, resolved on this machine.
closure() {
  ldd "$@" | awk '/=> \//{print $3}' | sort -u | grep -v -E '/(libc|libm|libpthread|libdl|librt|libresolv)\.so'
}

do_pack() {
  local torchsharp_git="${1:-/work/.mirror/dotnet+TorchSharp/repo}"
  [[ -d "$torchsharp_git" ]] || die "no TorchSharp clone at $torchsharp_git (clone https://github.com/dotnet/TorchSharp, or pass its path)"
  command -v xz >/dev/null || die "xz is missing (apt-get install xz-utils)"
  rm -rf "$pack"
  mkdir -p "$pack"
  local exclude  # .git is a file in a worktree: ask git where its exclude file is
  exclude="$(git -C "$repo" rev-parse --path-format=absolute --git-path info/exclude)"
  mkdir -p "$(dirname "$exclude")"
  grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN

  echo "gpu-check: publishing the CLI (framework-dependent, no libtorch, no Orleans dashboard) ..."
  # Without the dashboard the CLI needs no ASP.NET Core shared framework (~8 MiB packed): the runs below use `train` only,
  # and with it the pack would pass its limit.
  dotnet publish "$repo/Silos/Silos.csproj" -c Release -p:TorchBackend=none -p:OrleansDashboard=false --no-self-contained -o "$work/app" -v q -nologo >/dev/null
  # Natives of other platforms go; TorchSharp's prebuilt LibTorchSharp is kept only for the rehearsal (the GPU run
  # replaces it with one built against that machine's libtorch).
  find "$work/app/runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
  tar -C "$work" -cJf "$pack/app.tar.xz" app

  echo "gpu-check: packing the .NET runtime ..."
  local dotnet_root
  dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
  # Every shared framework orchestrator.runtimeconfig.json names (Microsoft.NETCore.App, and Microsoft.AspNetCore.App for
  # the Orleans dashboard): the host refuses to start the CLI, even for `train`, when one is missing.
  local -a frameworks
  mapfile -t frameworks < <(python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["runtimeOptions"]
for f in o.get("frameworks") or [o["framework"]]: print("shared/" + f["name"])' "$work/app/orchestrator.runtimeconfig.json")
  (( ${#frameworks[@]} > 0 )) || die "no shared framework in $work/app/orchestrator.runtimeconfig.json"
  tar -C "$dotnet_root" -cJf "$pack/dotnet.tar.xz" dotnet host "${frameworks[@]}"

  echo "gpu-check: TorchSharp $torchsharp_version native sources ..."
  local ref=HEAD
  git -C "$torchsharp_git" rev-parse -q --verify "v$torchsharp_version" >/dev/null && ref="v$torchsharp_version"
  git -C "$torchsharp_git" show "$ref:build/BranchInfo.props" | grep -q "<MinorVersion>${torchsharp_version#0.}" \
    || git -C "$torchsharp_git" show "$ref:build/BranchInfo.props" | grep -q "<MinorVersion>$(cut -d. -f2 <<<"$torchsharp_version")<" \
    || die "$torchsharp_git at $ref is not TorchSharp $torchsharp_version"
  git -C "$torchsharp_git" archive --format=tar "$ref" src/Native | xz > "$pack/torchsharp-native.tar.xz"

  echo "gpu-check: MPICH libraries and Hydra ..."
  mkdir -p "$work/mpich/lib" "$work/mpich/bin"
  local mpich hydra proxy
  mpich="$(readlink -f /usr/lib/x86_64-linux-gnu/libmpich.so.12)"
  hydra="$(readlink -f "$(command -v mpiexec.hydra)")"
  proxy="$(readlink -f "$(command -v hydra_pmi_proxy)")"
  cp "$hydra" "$proxy" "$work/mpich/bin/"
  cp "$mpich" "$work/mpich/lib/libmpich.so.12"
  local lib
  for lib in $(closure "$mpich" "$hydra" "$proxy"); do cp -L "$lib" "$work/mpich/lib/"; done
  cp -rL /usr/lib/x86_64-linux-gnu/ucx "$work/mpich/lib/ucx"
  # Static archives and the InfiniBand/RDMA transports are of no use on one machine.
  rm -f "$work"/mpich/lib/ucx/*.a "$work"/mpich/lib/ucx/libuct_ib* "$work"/mpich/lib/ucx/libuct_rdmacm* 2>/dev/null || true
  for lib in "$work"/mpich/lib/ucx/*.so.0; do
    for dep in $(closure "$lib"); do [[ -e "$work/mpich/lib/$(basename "$dep")" ]] || cp -L "$dep" "$work/mpich/lib/"; done
  done
  # Debian ships libmpich with its symbol tables (41 MB); the run needs none of them.
  find "$work/mpich" -type f -name '*.so*' -exec strip --strip-unneeded {} +
  tar -C "$work" -cJf "$pack/mpich.tar.xz" mpich

  echo "gpu-check: Fashion-MNIST subset (12,000 training images, the 10,000 test images) ..."
  mkdir -p "$pack/fashion-mnist"
  python3 - "$pack/fashion-mnist" <<'PY'
import gzip, shutil, struct, sys
src, dst, keep = "/usr/share/datasets/fashion-mnist", sys.argv[1], 12000
for kind in ("images-idx3", "labels-idx1"):
    with gzip.open(f"{src}/train-{kind}-ubyte.gz", "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = list(struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim]))
    row = 1
    for d in dims[1:]:
        row *= d
    dims[0] = keep
    with gzip.open(f"{dst}/train-{kind}-ubyte.gz", "wb", compresslevel=9) as f:
        f.write(data[:4] + struct.pack(">" + "I" * ndim, *dims) + data[4 + 4 * ndim:4 + 4 * ndim + keep * row])
    shutil.copy(f"{src}/t10k-{kind}-ubyte.gz", f"{dst}/t10k-{kind}-ubyte.gz")
PY

  local mib
  mib=$(( $(du -sk "$pack" | cut -f1) / 1024 ))
  ls -la "$pack"
  (( mib <= limit_mib )) || die ".gpu is $mib MiB, over the $limit_mib MiB the device call carries"
  echo "gpu-check: packed $mib MiB in $pack; on the GPU machine: bash bench/gpu/gpu-check.sh run (carry .gpu)"
}

# Unpacks the pack into $1 and sets up the environment of the runs.
unpack() {
  local root="$1"
  mkdir -p "$root"
  local part
  for part in app dotnet mpich; do tar -C "$root" -xJf "$pack/$part.tar.xz"; done
  export DOTNET_ROOT="$root" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  export PATH="$root:$root/mpich/bin:$PATH"
  # A bare image may lack ICU; the runs need no culture data.
  ldconfig -p 2>/dev/null | grep -q libicuuc || export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
  export UCX_MODULE_DIR="$root/mpich/lib/ucx" UCX_TLS=tcp,self,sm
  app="$root/app"
}

# Our train and the peer; $1 = device (cuda|cpu), $2 = output folder. Prints and records samples/s side by side.
compare() {
  local device="$1" out="$2" python="${PYTHON:-python3}"
  local spec="$repo/bench/gpu/cnn-gbn.yaml"
  local -a set=(--set "device=$device" --set "data.root=$pack/fashion-mnist")
  # Each run is bounded and may fail without hiding the others' figures (one try on a lent machine).
  ours() {  # NAME RANKS WHAT [--set ...]; RUNS (names, space-separated) limits which run
    local name="$1" ranks="$2" what="$3"
    shift 3
    [[ -z "${RUNS:-}" || " $RUNS " == *" $name "* ]] || return 0
    local -a launch=() extra=()
    # EXTRA_SET: overrides for every run of ours, e.g. EXTRA_SET="--set model.kind=mlp --set model.width=256".
    [[ -n "${EXTRA_SET:-}" ]] && read -ra extra <<< "$EXTRA_SET"
    (( ranks > 1 )) && launch=(mpiexec.hydra -np "$ranks" -launcher fork)
    echo "gpu-check: ours, $what on $device ..."
    (cd "$repo" && timeout "${RUN_LIMIT:-240}" "${launch[@]}" dotnet "$app/orchestrator.dll" train "$spec" "${set[@]}" "${extra[@]}" --set "workers=$ranks" "$@" \
       --out "$out/$name" --fresh) > "$out/$name.log" 2>&1 || echo "gpu-check: ours, $what failed (exit $?)"
    tail -15 "$out/$name.log"
  }
  ours ours-1 1 "1 process"
  # On a GPU the buckets are encoded where they live by themselves; the rehearsal forces that path on CPU tensors.
  local -a device_path=()
  [[ -n "${FORCE_DEVICE_PATH:-}" ]] && device_path=(--codec-implementation torch)
  ours ours-2 2 "2 ranks, 2:4+int8 averaged where the buckets live, overlapped with backward" "${device_path[@]}"
  # The same without overlap (no marker functions in backward), and 8-bit simulated training (custom autograd functions
  # on libtorch's device thread): what tells a failure of the 2-rank run apart.
  ours ours-2-sequential 2 "2 ranks, 2:4+int8, not overlapped" "${device_path[@]}" --set compression.overlap=false
  ours ours-1-int8 1 "1 process, 8-bit weights, activations and gradients" \
    --set training.quantize.weights=8 --set training.quantize.activations=8 --set training.quantize.gradients=8
  ours ours-2-fp32 2 "2 ranks, fp32 gradients (MPI allreduce through the host)" --set compression.codec=none
  # The host path (fp32 buckets staged through host memory, fused codecs): tells the device codecs apart from the rest.
  ours ours-2-host 2 "2 ranks, 2:4+int8 staged through the host, not overlapped" --codec-implementation fused --set compression.overlap=false
  if [[ -z "${RUNS:-}" || " $RUNS " == *" pytorch "* ]]; then
  echo "gpu-check: PyTorch, 1 process on $device ..."
  timeout "${RUN_LIMIT:-240}" "$python" "$repo/bench/gpu/peer.py" --root "$pack/fashion-mnist" --device "$device" > "$out/pytorch.json" \
    || echo "gpu-check: PyTorch failed (exit $?)"
  cat "$out/pytorch.json"
  fi
  "$python" - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def load(path, last_line=False):
    try:
        text = open(f"{out}/{path}").read().strip()
        return json.loads(text.splitlines()[-1] if last_line else text)
    except (OSError, ValueError, IndexError):
        return None
ours1, ours2, peer = load("ours-1/summary.json"), load("ours-2/summary.json"), load("pytorch.json", last_line=True)
rows = [("ours, 1 process", ours1), ("ours, 2 ranks, 2:4+int8 on the device", ours2),
        ("ours, 2 ranks, 2:4+int8, not overlapped", load("ours-2-sequential/summary.json")),
        ("ours, 1 process, 8-bit (simulated)", load("ours-1-int8/summary.json")),
        ("ours, 2 ranks, 2:4+int8 staged through the host", load("ours-2-host/summary.json")),
        ("ours, 2 ranks, fp32 gradients", load("ours-2-fp32/summary.json")),
        (f"PyTorch {peer['torch'] if peer else '?'}, 1 process", peer)]
def steady(name):
    """Samples/s over the step times of epochs 2 and later (the peer times whole epochs after a warm-up epoch)."""
    try:
        rows = [json.loads(line) for line in open(f"{out}/{name}/metrics.jsonl")]
    except (OSError, ValueError):
        return float("nan")
    steps = [r for r in rows if "seconds" in r and "samples" in r and r.get("epoch", 0) >= 1]
    seconds = sum(r["seconds"] for r in steps)
    return sum(r["samples"] for r in steps) / seconds if seconds > 0 else float("nan")
names = ["ours-1", "ours-2", "ours-2-sequential", "ours-1-int8", "ours-2-host", "ours-2-fp32", None]
print(f"\n{'system':<45} {'samples/s':>10} {'steady':>10} {'accuracy':>9}   (device {peer and peer['device']}, {peer and peer.get('gpu')})")
for (label, result), name in zip(rows, names):
    rate = result["samples_per_second"] if result else float("nan")
    still = steady(name) if name else rate
    accuracy = f"{100 * result['test_accuracy']:.2f} %" if result and "test_accuracy" in result else "-"
    print(f"{label:<45} {rate:>10.0f} {still:>10.0f} {accuracy:>9}")
if ours1 and peer:
    print(f"ours / PyTorch (1 process): {ours1['samples_per_second'] / peer['samples_per_second']:.2f} whole run, "
          f"{steady('ours-1') / peer['samples_per_second']:.2f} steady (step times of epochs 2-3)")
if ours2:
    print(f"2 ranks sent {ours2['bytes_sent_per_step'] / 1e6:.2f} MB a step, ratio {ours2['compression_ratio']:.2f}, "
          f"overlapped steps {ours2.get('overlapped_steps')}")
PY
}

do_run() {
  [[ -f "$pack/app.tar.xz" ]] || die "no pack: run 'bench/gpu/gpu-check.sh pack' first and carry .gpu"
  local out="${OUT:-$repo/.gpu/out}" root=/tmp/gpu-check
  mkdir -p "$out"
  unpack "$root"
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; g++ --version | head -1; cmake --version | head -1
    ninja --version; nvcc --version | tail -1; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; } 2>&1 | tee "$out/gpu.txt" || true
  local torch_dir
  torch_dir="$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
  echo "gpu-check: building LibTorchSharp $torchsharp_version against $(python3 -c 'import torch; print(torch.__version__)') ..."
  mkdir -p "$root/native"
  tar -C "$root/native" -xJf "$pack/torchsharp-native.tar.xz"
  local src="$root/native/src/Native"
  # Newer libtorch headers warn where TorchSharp's pinned version did not: warnings stay warnings here. The version
  # header TorchSharp's own build generates is not needed by the library.
  sed -i 's/add_definitions(-Werror)/add_definitions(-Wno-error)/' "$src/CMakeLists.txt"
  local build_limit="${BUILD_LIMIT:-330}"
  # -k 0: one attempt shows every file that does not compile against this libtorch, not only the first.
  if ! (cmake -S "$src" -B "$root/native/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir/share/cmake/Torch" \
     && timeout "$build_limit" cmake --build "$root/native/build" --target LibTorchSharp -j "$(nproc)" -- -k 0) > "$out/libtorchsharp-build.log" 2>&1; then
    grep -E "error|FAILED" "$out/libtorchsharp-build.log" | head -60
    # The peer alone still gives this GPU's figure for the record.
    timeout 120 python3 "$repo/bench/gpu/peer.py" --root "$pack/fashion-mnist" --device cuda | tee "$out/pytorch.json" || true
    die "LibTorchSharp did not build (log: libtorchsharp-build.log)"
  fi
  # What the managed TorchSharp $torchsharp_version may call and this build lacks (empty when the sources match it).
  local prebuilt="$app/runtimes/linux-x64/native/libLibTorchSharp.so" built
  built="$(find "$root/native/build" -name libLibTorchSharp.so | head -1)"
  comm -23 <(nm -D --defined-only "$prebuilt" | awk '$2=="T"{print $3}' | sort) \
           <(nm -D --defined-only "$built" | awk '$2=="T"{print $3}' | sort) > "$out/missing-symbols.txt" || true
  echo "gpu-check: LibTorchSharp built; exports missing vs the prebuilt: $(wc -l < "$out/missing-symbols.txt")"
  cp "$built" "$app/libLibTorchSharp.so"
  rm -f "$prebuilt"
  export LD_LIBRARY_PATH="$app:$torch_dir/lib:$root/mpich/lib:${LD_LIBRARY_PATH:-}"
  # The device call brings back at most 8 files: the runs (logs, summaries, metrics, plots; no checkpoints) travel as
  # one archive, written also when a step fails.
  local runs="$root/runs"
  mkdir -p "$runs"
  trap 'tar -C "'"$runs"'" -czf "'"$out"'/runs.tgz" --exclude=checkpoints . 2>/dev/null || true' EXIT
  # A rank that crashes in native code leaves .NET's crash report (every thread's stack, managed frames named) instead
  # of UCX's native-only backtrace; the dumps themselves stay here.
  mkdir -p "$root/dumps"
  export UCX_HANDLE_ERRORS=none DOTNET_DbgEnableMiniDump=1 DOTNET_DbgMiniDumpType=1 DOTNET_EnableCrashReport=1 \
    DOTNET_DbgMiniDumpName="$root/dumps/dump-%p"
  compare cuda "$runs" 2>&1 | tee "$out/summary.txt"
  local report
  for report in "$root"/dumps/*.crashreport.json; do
    [[ -e "$report" ]] || continue
    cp "$report" "$runs/"
    python3 - "$report" <<'PY'
import json, sys
threads = json.load(open(sys.argv[1]))["payload"]["threads"]
for t in threads:
    if str(t.get("crashed")).lower() != "true":
        continue
    print(f"crash report {sys.argv[1]}: crashed thread")
    for frame in t["stack_frames"][:40]:
        print("  ", frame.get("method_name") or frame.get("unmanaged_name") or frame.get("native_module"))
PY
  done
}

do_rehearse() {
  [[ -f "$pack/app.tar.xz" ]] || die "no pack: run 'bench/gpu/gpu-check.sh pack' first"
  local out="$repo/.gpu/rehearsal"
  rehearsal_root="$(mktemp -d)"
  trap 'rm -rf "$rehearsal_root"' EXIT
  local root="$rehearsal_root"
  rm -rf "$out"
  mkdir -p "$out"
  unpack "$root"
  local libtorch="${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native"
  [[ -d "$libtorch" ]] || die "no CPU libtorch at $libtorch (build the repo once)"
  export LD_LIBRARY_PATH="$app/runtimes/linux-x64/native:$libtorch:$root/mpich/lib:${LD_LIBRARY_PATH:-}"
  PYTHON=/usr/bin/python3 FORCE_DEVICE_PATH=1 compare cpu "$out"
}

case "${1:-}" in
  pack) shift; do_pack "$@" ;;
  run) do_run ;;
  rehearse) do_rehearse ;;
  *) die "usage: gpu-check.sh pack [TORCHSHARP_GIT_DIR] | run | rehearse" ;;
esac
