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
  export DOTNET_ROOT="$root/dotnet" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  export PATH="$root/dotnet:$root/mpich/bin:$PATH"
  export UCX_MODULE_DIR="$root/mpich/lib/ucx" UCX_TLS=tcp,self,sm
  app="$root/app"
}

# Our train and the peer; $1 = device (cuda|cpu), $2 = output folder. Prints and records samples/s side by side.
compare() {
  local device="$1" out="$2" python="${PYTHON:-python3}"
  local spec="$repo/bench/gpu/cnn-gbn.yaml"
  local -a set=(--set "device=$device" --set "data.root=$pack/fashion-mnist")
  echo "gpu-check: ours, 1 process on $device ..."
  (cd "$repo" && dotnet "$app/orchestrator.dll" train "$spec" "${set[@]}" --set workers=1 --out "$out/ours-1" --fresh) 2>&1 | tee "$out/ours-1.log" | tail -15
  echo "gpu-check: ours, 2 ranks on $device, 2:4+int8 averaged where the buckets live ..."
  # On a GPU the buckets are encoded where they live by themselves; the rehearsal forces that path on CPU tensors.
  (cd "$repo" && mpiexec.hydra -np 2 -launcher fork dotnet "$app/orchestrator.dll" train "$spec" "${set[@]}" --out "$out/ours-2" --fresh \
     ${FORCE_DEVICE_PATH:+--codec-implementation torch}) 2>&1 | tee "$out/ours-2.log" | tail -15
  echo "gpu-check: PyTorch, 1 process on $device ..."
  "$python" "$repo/bench/gpu/peer.py" --root "$pack/fashion-mnist" --device "$device" | tee "$out/pytorch.json"
  "$python" - "$out" <<'PY'
import json, sys
out = sys.argv[1]
ours1 = json.load(open(f"{out}/ours-1/summary.json"))
ours2 = json.load(open(f"{out}/ours-2/summary.json"))
peer = json.loads(open(f"{out}/pytorch.json").read().strip().splitlines()[-1])
rows = [("ours, 1 process", ours1["samples_per_second"]), ("ours, 2 ranks, 2:4+int8 on the device", ours2["samples_per_second"]),
        (f"PyTorch {peer['torch']}, 1 process", peer["samples_per_second"])]
print(f"\n{'system':<45} {'samples/s':>10}   (device {peer['device']}, {peer.get('gpu')})")
for name, value in rows:
    print(f"{name:<45} {value:>10.0f}")
print(f"ours / PyTorch (1 process): {ours1['samples_per_second'] / peer['samples_per_second']:.2f}")
print(f"accuracy: ours 1 process {100 * ours1['test_accuracy']:.2f} %, 2 ranks {100 * ours2['test_accuracy']:.2f} % after {ours1['epochs']} epochs;"
      f" 2 ranks sent {ours2['bytes_sent_per_step'] / 1e6:.2f} MB a step, ratio {ours2['compression_ratio']:.2f}")
PY
}

do_run() {
  [[ -f "$pack/app.tar.xz" ]] || die "no pack: run 'bench/gpu/gpu-check.sh pack' first and carry .gpu"
  local out="${OUT:-$repo/.gpu/out}" root=/tmp/gpu-check
  mkdir -p "$out"
  unpack "$root"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt" || true
  local torch_dir
  torch_dir="$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
  echo "gpu-check: building LibTorchSharp $torchsharp_version against $(python3 -c 'import torch; print(torch.__version__)') ..."
  mkdir -p "$root/native"
  tar -C "$root/native" -xJf "$pack/torchsharp-native.tar.xz"
  local src="$root/native/src/Native"
  # Newer libtorch headers warn where TorchSharp's pinned version did not: warnings stay warnings here. The version
  # header TorchSharp's own build generates is not needed by the library.
  sed -i 's/add_definitions(-Werror)/add_definitions(-Wno-error)/' "$src/CMakeLists.txt"
  (cmake -S "$src" -B "$root/native/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir/share/cmake/Torch" \
     && cmake --build "$root/native/build" --target LibTorchSharp -j "$(nproc)") > "$out/libtorchsharp-build.log" 2>&1 \
    || { tail -40 "$out/libtorchsharp-build.log"; die "LibTorchSharp did not build (log: libtorchsharp-build.log)"; }
  cp "$(find "$root/native/build" -name libLibTorchSharp.so | head -1)" "$app/libLibTorchSharp.so"
  rm -f "$app/runtimes/linux-x64/native/libLibTorchSharp.so"
  export LD_LIBRARY_PATH="$app:$torch_dir/lib:$root/mpich/lib:${LD_LIBRARY_PATH:-}"
  compare cuda "$out"
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
