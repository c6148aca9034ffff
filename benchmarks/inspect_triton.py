"""The Triton forward kernel's machine code for an H100/H200, read without a GPU.

For every tile the kernel is tuned over (``FORWARD_TILES``), it compiles the
float32 forward kernel for compute capability 9.0 (``compile_forward``: the
code Triton would build at the first call on an H100 or H200) and prints,
from the SASS that Triton's ``cuobjdump`` disassembles:

* registers per thread, stack frame and shared memory, and the warps per
  multiprocessor they allow (of 64);
* the innermost loop (the taps of one tile): its instruction count, its
  ``FFMA`` (float32 fused multiply-add) share and its loads. A warp scheduler
  issues one instruction per cycle, so the FFMA share caps the fraction of
  the float32 peak this loop can reach;
* the multiply-adds the tile shape executes per 40x250 patch for O-net +
  P-net and 8x O-net + 8x P-net, against the useful ones (zero-weight taps
  and masked frames are the tiling's waste);
* ``cap``: forward patches per second if that loop issued at one instruction
  per cycle on 132 multiprocessors at 1.98 GHz (an H100 SXM or H200), i.e. the
  float32 peak times the FFMA share over the executed multiply-adds. A static
  upper bound, not a measurement: memory latency, occupancy and the loops
  around it only lower it. Time the kernels with ``bench_engine.py --device
  cuda``.

Usage::

    python benchmarks/inspect_triton.py
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

import numpy as np

if os.environ.pop("TRITON_INTERPRET", None):  # Triton compiles only without its interpreter
    os.execv(sys.executable, [sys.executable, *sys.argv])

import triton  # noqa: E402

from skrhythm.nn._kernels._triton import FORWARD_TILES, compile_forward  # noqa: E402
from skrhythm.nn.musiccnn import ONET_LENGTHS, PNET_LENGTHS  # noqa: E402

N_BANDS, PATCH = 40, 250
SMS, CLOCK_HZ, LANES = 132, 1.98e9, 128  # H100 SXM / H200: float32 FMA lanes per SM
NETWORKS = {
    "O+P": np.repeat(ONET_LENGTHS + PNET_LENGTHS, [5] * 8 + [1] * 35),
    "8xO+8xP": np.repeat(ONET_LENGTHS + PNET_LENGTHS, [40] * 8 + [8] * 35),
}
CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin",
                         "cuobjdump")  # fmt: skip


def cuobjdump(cubin, *flags):
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        return subprocess.run([CUOBJDUMP, *flags, f.name], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip


def resources(cubin):
    """Registers, stack frame and shared memory bytes of the kernel."""
    usage = cuobjdump(cubin, "-res-usage")
    return {key: int(re.search(rf"{key}:(\d+)", usage).group(1))
            for key in ("REG", "STACK", "SHARED")}  # fmt: skip


def innermost_loop(cubin):
    """Opcode counts of the shortest backward-branching loop that holds FFMA instructions."""
    lines = re.findall(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", cuobjdump(cubin, "--dump-sass"))
    address = [int(a, 16) for a, _ in lines]
    opcodes = [op.split()[1 if op.startswith("@") else 0].split(".")[0] for _, op in lines]
    loops = []
    for end, (_, op) in enumerate(lines):
        target = re.search(r"BRA\s+.*?0x([0-9a-f]+)", op)
        if target and int(target.group(1), 16) < address[end]:
            start = address.index(int(target.group(1), 16))
            body = Counter(opcodes[start : end + 1])
            if body["FFMA"]:
                loops.append(body)
    return min(loops, key=lambda body: body.total())


def executed_multiply_adds(lengths, block_f, block_t, block_k):
    """Multiply-adds per patch that a tile shape executes (filters in ascending length)."""
    total = 0
    for i in range(0, len(lengths), block_f):
        block = lengths[i : i + block_f]
        tiles = math.ceil((PATCH - block.min() + 1) / block_t)
        total += tiles * block_t * math.ceil(block.max() / block_k) * block_k * block_f
    return total * N_BANDS


def main():
    print(f"Triton {triton.__version__}; float32 forward kernel compiled for sm_90")
    names = list(NETWORKS)
    header = (f"{'tile F,T,K,warps':>17} {'regs':>4} {'stack':>5} {'warps/SM':>8} | "
              f"{'loop instr':>10} {'FFMA':>5} {'loads':>5} | "
              + " | ".join(f"{n + ' MACs x':>15} {'cap/s':>8}" for n in names))  # fmt: skip
    print(header)
    print("-" * len(header))
    for tile in FORWARD_TILES:
        cubin = compile_forward(tile).asm["cubin"]
        res = resources(cubin)
        warps = tile[3]
        blocks = min(65536 // (max(res["REG"], 1) * 32 * warps), 64 // warps)
        loop = innermost_loop(cubin)
        share = loop["FFMA"] / loop.total()
        loads = sum(n for op, n in loop.items() if op.startswith(("LDG", "LDS")))
        cells = []
        for lengths in NETWORKS.values():
            useful = N_BANDS * int((lengths * (PATCH - lengths + 1)).sum())
            executed = executed_multiply_adds(np.sort(lengths), *tile[:3])
            cap = SMS * LANES * CLOCK_HZ * share / executed
            cells.append(f"{executed / useful:15.2f} {cap:8.0f}")
        print(f"{','.join(map(str, tile)):>17} {res['REG']:>4} {res['STACK']:>5} "
              f"{blocks * warps:>8} | {loop.total():>10} {share:5.0%} {loads:>5} | "
              + " | ".join(cells), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
