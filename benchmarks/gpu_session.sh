#!/usr/bin/env bash
# The GPU checks of the fused filter bank, as one call on a lent GPU machine.
#
#   bash benchmarks/gpu_session.sh wheels   # here: the wheels the GPU image lacks, into .whl/
#   bash benchmarks/gpu_session.sh run      # there (device tool, carry [".whl"]): see below
#   bash benchmarks/gpu_session.sh end-to-end   # there, a second call: bench_end_to_end.py
#
# "run" installs the carried wheels (the image has torch, Triton, numba, scikit-learn, but not
# skorch, librosa, soundfile, soxr or skops), names the GPU and versions, runs the GPU tests on CUDA (every tuned
# Triton tile against numba, gradients, ties, batch invariance, a fit, the dense layer,
# CUDA-graphed fits against skorch's step), bench_engine.py's training throughput, host time
# per step and paper-protocol projection (each with and without CUDA graphs), concurrent
# fits on the GPU, and profile_step.py of a graphed fit. At most 10 minutes (each step has a
# time limit, the most important first). Logs go to $OUT (the device tool's folder that comes back), else to
# /tmp/gpu-session.
set -o pipefail
cd "$(dirname "$0")/.."

if [ "$1" = wheels ]; then
    # the versions CI installs here; Python 3.12 on the GPU machine
    exec python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl skorch==1.4.0 tabulate==0.10.0 \
        librosa==0.11.0 audioread==3.1.0 soundfile==0.14.0 soxr==1.1.0 pooch==1.9.0 \
        platformdirs==4.14.8 decorator==5.2.1 cffi==2.0.0 pycparser==3.0 \
        skops==0.16.0 prettytable==3.19.0 wcwidth==0.7.0
elif [ "$1" != run ] && [ "$1" != end-to-end ]; then
    echo "usage: bash benchmarks/gpu_session.sh wheels|run|end-to-end" >&2
    exit 2
fi

OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1
{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    python3 -c "import torch, triton; print('torch', torch.__version__, 'CUDA',
torch.version.cuda, 'triton', triton.__version__, torch.cuda.get_device_name())"
} 2>&1 | tee "$OUT/gpu.txt"
if [ "$1" = end-to-end ]; then
    # A second call of at most 10 minutes: the comparison on a Ballroom-sized set of WAV files,
    # every phase timed, the GPU's busy share sampled (the quick variant: O-net + P-net, 2 folds).
    timeout 590 python3 benchmarks/bench_end_to_end.py --device cuda --models o+p --folds 2 \
        --epochs 50 --workdir /tmp/e2e --name cuda_o+p_2folds 2>&1 | tee "$OUT/end_to_end.log"
    cp benchmarks/results/end_to_end_*.json "$OUT/" 2>/dev/null
    exit 0
fi
timeout 130 python3 -m pytest -q -p no:cacheprovider tests/test_filterbank.py \
    tests/test_training.py tests/test_classifier.py \
    tests/test_cuda_graph.py::test_cuda_graphs_train_the_same_model_on_cuda -k "(triton or dense or cuda or float64) and not compiles_for" 2>&1 | tee "$OUT/tests.log" | tail -15
timeout 300 python3 benchmarks/bench_engine.py --device cuda --batches 50 256 --fit-epochs 10 \
    --host-overhead --projection 2>&1 | tee "$OUT/bench_engine.log"
timeout 100 python3 benchmarks/bench_engine.py --device cuda --batches 50 --fit-epochs 10 \
    --skip-throughput --real-fold --concurrent 1 2 4 --cuda-graphs 2>&1 | tee "$OUT/fold.log"
timeout 40 python3 benchmarks/bench_engine.py --device cuda --batches 50 --fit-epochs 10 \
    --skip-throughput --concurrent 1 4 2>&1 | tee "$OUT/concurrent.log"
timeout 30 python3 benchmarks/profile_step.py --device cuda --cuda-graphs 2>&1 \
    | tee "$OUT/profile.log" | tail -4
