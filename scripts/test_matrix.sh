#!/usr/bin/env bash
# Runs the test suite on every CPU kernel torch can use here and with 1 and 2 threads, and reports pass/fail per cell.
# geoembed promises equal results within one tolerance across batch sizes, thread counts and CPU kernels
# (docs/reproducibility.md); this proves the tests hold to it. CI runs only the native suite (.ci/run).
#
#   bash scripts/test_matrix.sh                       # the whole suite, 6 cells
#   bash scripts/test_matrix.sh tests/test_encode.py  # arguments go to pytest (files, -k, -m "not slow"...)
#   KERNELS="default avx2" THREADS=1 bash scripts/test_matrix.sh -m "not slow"
#
# A kernel the CPU lacks (avx2 on an ARM machine) falls back to the best one it has; the report names the kernel torch
# actually used. Exit status: 0 when every cell passed. Logs go to ${LOG_DIR:-test-matrix-logs}/.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
KERNELS=${KERNELS:-"native default avx2"}
THREADS=${THREADS:-"1 2"}
LOG_DIR=${LOG_DIR:-test-matrix-logs}
mkdir -p "$LOG_DIR"
ARGS=("$@")
# no arguments: pytest collects its testpaths (the core tests and every plugin distribution's tests)

declare -a REPORT
failed=0
for kernel in $KERNELS; do
  for threads in $THREADS; do
    env_kernel=()
    [ "$kernel" != "native" ] && env_kernel=(ATEN_CPU_CAPABILITY="$kernel")
    log="$LOG_DIR/$kernel-$threads.log"
    # torch reads OMP_NUM_THREADS for its intra-op pool; GEOEMBED_TEST_THREADS makes conftest.py call
    # torch.set_num_threads too, so no library can widen the pool behind the variable's back.
    run_env=(env "${env_kernel[@]}" OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
             OPENBLAS_NUM_THREADS="$threads" GEOEMBED_TEST_THREADS="$threads")
    used=$("${run_env[@]}" "$PY" -c "import torch; print(torch.backends.cpu.get_cpu_capability())" 2>/dev/null)
    start=$(date +%s)
    "${run_env[@]}" "$PY" -m pytest -q -p no:cacheprovider "${ARGS[@]}" >"$log" 2>&1
    status=$?
    seconds=$(( $(date +%s) - start ))
    summary=$(grep -E "(passed|failed|error)" "$log" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')
    if [ $status -eq 0 ]; then verdict=PASS; else verdict=FAIL; failed=1; fi
    REPORT+=("$(printf '%-8s %-8s %-7s %-5s %5ss  %s' "$kernel" "${used:-?}" "$threads" "$verdict" "$seconds" "$summary")")
    echo "${REPORT[-1]}"
  done
done
echo
printf '%-8s %-8s %-7s %-5s %6s  %s\n' KERNEL "USED" THREADS RESULT TIME SUMMARY
printf '%s\n' "${REPORT[@]}"
echo "logs: $LOG_DIR/"
exit $failed
