# Sourced by the tests that run recpipe under Open MPI.
#   mpi_run NP CMD...   runs CMD on NP processes (oversubscribed, as root
#                       too), at most MPI_TIMEOUT seconds (default 300):
#                       exit status 124 means it hung.
# Exits 77 (skipped) when mpirun is absent; `make deps` installs it.
if ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIP: mpirun not found (Debian openmpi-bin; make deps installs it)"
  exit 77
fi
# Open MPI's own allocations at exit are not ours (ASan builds): they are
# suppressed by library name, which needs its components kept loaded (a
# dlclose'd component's frames have no name) and full stacks
LSAN_OPTIONS="suppressions=$(pwd)/tests/e2e/lib/lsan-mpi.supp:fast_unwind_on_malloc=0 ${LSAN_OPTIONS:-}"
OMPI_MCA_mca_base_component_disable_dlclose=1
export LSAN_OPTIONS OMPI_MCA_mca_base_component_disable_dlclose
# the variables passed on to the ranks: those that are set
mpi_env=""
for _v in LSAN_OPTIONS OMPI_MCA_mca_base_component_disable_dlclose ASAN_OPTIONS UBSAN_OPTIONS \
  TSAN_OPTIONS OMP_NUM_THREADS; do
  eval "[ -n \"\${$_v+set}\" ]" && mpi_env="$mpi_env -x $_v"
done
mpi_run() {
  _np=$1
  shift
  # shellcheck disable=SC2086 # a word list
  timeout "${MPI_TIMEOUT:-300}" mpirun --oversubscribe --allow-run-as-root --bind-to none \
    $mpi_env -np "$_np" "$@"
}
