#!/usr/bin/env bash
# Run a study with Snakemake on a machine that has a GPU but no Snakemake (a stock PyTorch image):
# install the wheels gathered by `bash tools/gpu_bundle.sh --wheels` into /tmp/site, point cvgr at the
# raw Fashion-MNIST files in .gpu-data, run `snakemake --cores all` on the config, and copy the tables,
# figures and the run's timing to $OUT (when set).
#   bash tools/gpu_study.sh [CONFIG]        # default configs/paper-fmnist.yaml
# It exits with Snakemake's status, so a failed study fails the command.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/paper-fmnist.yaml}
case $config in /*) config_path=$config ;; *) config_path=$PWD/$config ;; esac
if ! python3 -c "import snakemake, pydantic" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu-data/wheels/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} CVGR_DATA=$PWD/.gpu-data PYTHONUNBUFFERED=1
work=${WORK:-/tmp/cvgr-study}
mkdir -p "$work"
start=$(date +%s)
# The status is Snakemake's own (a failed tee, losing the log, counts too); grep finding no line is no failure.
set +e
python3 -m snakemake -s "$PWD/Snakefile" --directory "$work" --configfile "$config_path" --cores all 2>&1 \
  | tee "$work/snakemake.out" | grep -E "^\[|steps \(|Error|error"
pipe=("${PIPESTATUS[@]}")
set -e
status=${pipe[0]}
[ "$status" -ne 0 ] || status=${pipe[1]}
took=$(( $(date +%s) - start ))
echo "gpu study: $config finished with status $status in ${took} s of wall time"
if [ -n "${OUT:-}" ]; then
  cp "$work"/results/tables/*.md "$work"/results/tables/*.csv "$OUT"/ 2>/dev/null || true
  cp "$work"/results/figures/*.png "$OUT"/ 2>/dev/null || true
  echo "$config: status $status, ${took} s wall, $(nproc) cores" > "$OUT/study_time.txt"
fi
exit "$status"
