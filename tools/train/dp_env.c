/* dp_env.c - what the environment says about this process (dp.h): the
 * launcher's process count, and the tests' fault-injection knobs. Shared by
 * the builds with and without MPI. */
#include "dp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* a non-negative integer, or -1 */
static long env_num(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    return errno || *end || n < 0 ? -1 : n;
}

int dp_launched(void)
{
    long n = env_num("OMPI_COMM_WORLD_SIZE"); /* Open MPI's mpirun */
    if (n < 0) n = env_num("PMI_SIZE");       /* MPICH's hydra, Slurm's PMI */
    if (n >= 0) return n > 0x7fffffffL ? 0x7fffffff : (int)n;
    if (getenv("PMI_RANK") || getenv("PMIX_RANK")) return -1;
    return 0;
}

dp_fault_kind dp_fault(int rank, int64_t *step)
{
    long r = env_num("TG_FAULT_RANK"), s = env_num("TG_FAULT_STEP");
    if (r < 0 || s < 0 || r != rank) return DP_FAULT_NONE;
    const char *k = getenv("TG_FAULT");
    *step = s;
    if (!k || !*k || !strcmp(k, "nan")) return DP_FAULT_NAN;
    if (!strcmp(k, "kill")) return DP_FAULT_KILL;
    if (!strcmp(k, "io")) return DP_FAULT_IO;
    return DP_FAULT_NONE;
}
