#!/usr/bin/env bash
# GPU runs of this repo on a bare CUDA machine (its python3 has torch, timm, OpenCV, numpy, PyYAML,
# tqdm; no ROS, no rosbags: only core/models/train are used). Run from the repo root, with the
# compact training data in .traindata/ (scripts/compact_train_data.py) and OUT set to a folder
# whose files are kept.
#
#   OUT=/some/dir bash scripts/gpu_device_run.sh probe
#       versions, the CUDA model-only benchmark (bench/run_bench.py, no node/accuracy/scaling)
#       -> $OUT/bench_cuda.txt, and two short training-throughput runs -> $OUT/throughput.txt
#   OUT=/some/dir bash scripts/gpu_device_run.sh train ITERATIONS BATCH MAX_MINUTES [LR]
#       train t224 from scratch with the demo recipe's data mix (Makefile TRAIN_ARGS) on .traindata;
#       the checkpoint comes back split in 15 MiB parts with its sha256 (rejoin with cat), plus
#       its .log.jsonl and the console log; the .state.pt stays behind.
#   OUT=/some/dir bash scripts/gpu_device_run.sh auto SECONDS BATCH ECHO [LR]
#       fit a run into SECONDS of wall time: measure how many sample processes the CPU really
#       runs in parallel (-> $OUT/cpu_scaling.txt), time 30 steps with that worker count, then
#       'train' with the iteration count that fills the time left (the cosine schedule completes).
# Env: WORKERS (default 14), ECHO (data echoing, default 1), THREADS (main-process torch threads).
set -uo pipefail
: "${OUT:?set OUT to the folder that keeps results}"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TQDM_MININTERVAL=15
DATA=.traindata
WORKERS=${WORKERS:-14}
ECHO=${ECHO:-1}
THREADS=${THREADS:-1}

train_cmd() {   # iterations batch max_minutes lr out
    echo python3 -m rgbx_tracker_ros.cli.train --variant t224 --out "$5" --data-root $DATA \
        --iterations "$1" --batch-size "$2" --lr "$4" --warmup 300 --synthetic-ratio 0.5 \
        --checkpoint-every 250 --seed 1 --workers "$WORKERS" --amp --max-minutes "$3" \
        --echo "$ECHO" --threads "$THREADS"
}

steps_per_s() {  # log.jsonl -> steps/s between the first and the last record
    python3 - "$1" <<'EOF'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
a, b = (r[0], r[-1]) if len(r) > 1 else ({'step': 0, 'elapsed_s': 0.0}, r[-1])
print(f"steps {a['step']}->{b['step']} in {b['elapsed_s'] - a['elapsed_s']:.1f} s: "
      f"{(b['step'] - a['step']) / (b['elapsed_s'] - a['elapsed_s']):.2f} steps/s; "
      f"first record at {a['elapsed_s']:.1f} s; last losses "
      + ' '.join(f'{k}={v:.3f}' if isinstance(v, float) else f'{k}={v}'
                 for k, v in b.items() if k not in ('step', 'lr', 'elapsed_s')))
EOF
}

case "${1:-}" in
probe)
    { nvidia-smi; nproc; free -g | head -2
      python3 -c "import sys, torch, timm, cv2, numpy; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0)); print('timm', timm.__version__, 'cv2', cv2.__version__, 'numpy', numpy.__version__)"
      du -sh $DATA; } 2>&1 | tee "$OUT/versions.txt"
    python3 bench/run_bench.py --quick --skip-node --skip-accuracy --skip-scaling 2>&1 \
        | tee "$OUT/bench_cuda.txt"
    for batch in 64 128; do
        out=/tmp/tp$batch/t.pt
        cmd="$(train_cmd 100 $batch 3 5e-4 $out) --checkpoint-every 25"
        echo "== $cmd" | tee -a "$OUT/throughput.txt"
        start=$(date +%s)
        $cmd > /tmp/tp$batch.log 2>&1; rc=$?
        tail -3 /tmp/tp$batch.log | tee -a "$OUT/throughput.txt"
        echo "rc=$rc wall=$(( $(date +%s) - start )) s" | tee -a "$OUT/throughput.txt"
        steps_per_s /tmp/tp$batch/t.log.jsonl | tee -a "$OUT/throughput.txt"
        nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv | tee -a "$OUT/throughput.txt"
    done
    ;;
train)
    iters=$2 batch=$3 minutes=$4 lr=${5:-5e-4}
    mkdir -p /tmp/run
    cmd=$(train_cmd "$iters" "$batch" "$minutes" "$lr" /tmp/run/t224_gpu.pt)
    echo "$cmd" | tee "$OUT/train_console.txt"
    start=$(date +%s)
    $cmd >> "$OUT/train_console.txt" 2>&1; rc=$?
    echo "rc=$rc wall=$(( $(date +%s) - start )) s" | tee -a "$OUT/train_console.txt"
    cp /tmp/run/t224_gpu.log.jsonl "$OUT/" 2>/dev/null
    steps_per_s /tmp/run/t224_gpu.log.jsonl | tee -a "$OUT/train_console.txt"
    if [ -f /tmp/run/t224_gpu.pt ]; then
        (cd /tmp/run && sha256sum t224_gpu.pt) > "$OUT/t224_gpu.pt.sha256"
        split -b 15M /tmp/run/t224_gpu.pt "$OUT/t224_gpu.pt.part_"
    fi
    ls -l "$OUT"
    exit $rc
    ;;
auto)
    deadline=$(( $(date +%s) + $2 )) batch=$3 lr=${5:-5e-4}
    export ECHO=$4
    python3 - > "$OUT/cpu_scaling.txt" 2>&1 <<'EOF'
import multiprocessing as mp, os, time
import cv2, numpy as np
from rgbx_tracker_ros.train.data import Geometry, make_pair, photometric
cv2.setNumThreads(1)
def work(q):
    rng, geo = np.random.default_rng(os.getpid()), Geometry()
    img = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    box_a, box_b = np.array([200., 150, 80, 90]), np.array([205., 152, 80, 90])
    n, t0 = 0, time.time()
    while time.time() - t0 < 3.0:
        t, s, _ = make_pair([img], box_a, [img], box_b, geo, rng)
        photometric(t[0], rng)
        photometric(s[0], rng)
        n += 1
    q.put(n / (time.time() - t0))
ctx = mp.get_context('fork')
for n in (1, 2, 4, 8, 12, 15):
    q = ctx.Queue()
    ps = [ctx.Process(target=work, args=(q,)) for _ in range(n)]
    [p.start() for p in ps]
    rates = [q.get() for _ in ps]
    [p.join() for p in ps]
    print(f'procs {n}: {sum(rates):.0f} pairs/s in all, {min(rates):.0f}-{max(rates):.0f} per process', flush=True)
EOF
    cat /sys/fs/cgroup/cpu.max 2>/dev/null; grep -m1 'model name' /proc/cpuinfo
    export WORKERS=$(python3 -c "
import re
rows = [tuple(map(float, re.match(r'procs (\d+): (\d+)', l).groups())) for l in open('$OUT/cpu_scaling.txt') if l.startswith('procs')]
best = max(r for _, r in rows)
print(min(14, int(min(n for n, r in rows if r >= 0.9 * best))))")
    echo "workers $WORKERS echo $ECHO" >> "$OUT/cpu_scaling.txt"
    rm -rf /tmp/probe; cmd="$(train_cmd 30 $batch 2 $lr /tmp/probe/t.pt) --checkpoint-every 10"
    echo "== probe: $cmd" >> "$OUT/cpu_scaling.txt"
    $cmd > /tmp/probe.log 2>&1 || { tail -20 /tmp/probe.log; exit 1; }
    rate=$(python3 -c "
import json; r=[json.loads(l) for l in open('/tmp/probe/t.log.jsonl')]
print((r[-1]['step']-r[0]['step'])/(r[-1]['elapsed_s']-r[0]['elapsed_s']))")
    left=$(( deadline - $(date +%s) ))
    iters=$(python3 -c "print(int($rate * ($left - 45) * 0.93))")
    minutes=$(python3 -c "print(round(($left - 25) / 60, 2))")
    echo "probe: $rate steps/s; $left s left -> $iters iterations, max-minutes $minutes" >> "$OUT/cpu_scaling.txt"
    cat "$OUT/cpu_scaling.txt"
    exec bash "$0" train "$iters" "$batch" "$minutes" "$lr"
    ;;
*)
    echo "usage: OUT=dir $0 probe | train ITERATIONS BATCH MAX_MINUTES [LR] | auto SECONDS BATCH ECHO [LR]" >&2
    exit 2
    ;;
esac
