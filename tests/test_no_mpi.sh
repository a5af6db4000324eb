#!/bin/sh
# test_no_mpi.sh TAPEGRAD FIXTURES - a tapegrad built without MPI, started
# as if by mpirun with 2 processes (Open MPI's OMPI_COMM_WORLD_SIZE, or
# MPICH's PMI_SIZE), refuses to train instead of training 2 independent
# copies that write the same files; started as 1 process it trains as usual.
set -u
bin=$1
fx=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}
for launcher in OMPI_COMM_WORLD_SIZE PMI_SIZE; do
    for cmd in "train-gan --dropout 0" "train-classifier --hidden 8"; do
        # shellcheck disable=SC2086 # $cmd is a command and its flags
        out=$(env "$launcher=2" "$bin" $cmd --data "$fx" --batch 4 --epochs 1 --threads 1 --quiet --out "$tmp/x" 2>&1)
        rc=$?
        [ "$rc" -ne 0 ] || fail "$launcher=2 $cmd: exit 0"
        case $out in
        *"started by mpirun with 2 processes, but this tapegrad was built without MPI"*) ;;
        *) fail "$launcher=2 $cmd: message: $out" ;;
        esac
        [ ! -e "$tmp/x" ] || fail "$launcher=2 $cmd: wrote $tmp/x"
    done
done
# bench gan-step splits its batch like train-gan: refused the same way
out=$(env OMPI_COMM_WORLD_SIZE=2 "$bin" bench gan-step --batch 4 --steps 1 --repeats 1 --threads 1 2>&1)
rc=$?
[ "$rc" -ne 0 ] || fail "OMPI_COMM_WORLD_SIZE=2 bench gan-step: exit 0"
case $out in
*"started by mpirun with 2 processes, but this tapegrad was built without MPI"*) ;;
*) fail "OMPI_COMM_WORLD_SIZE=2 bench gan-step: message: $out" ;;
esac
OMPI_COMM_WORLD_SIZE=1 "$bin" train-gan --data "$fx" --batch 4 --epochs 1 --threads 1 --quiet --out "$tmp/one" ||
    fail "one process under mpirun -np 1"
[ -f "$tmp/one/checkpoint.safetensors" ] || fail "one process: no checkpoint"
echo "ok: without MPI, 2 processes are refused and 1 trains"
