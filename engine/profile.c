/* profile.c - opt-in wall-time profile of plan runs and optimizer steps.
 *
 * While enabled, every node a plan runs adds its wall time to a row for its
 * op and pass (forward or backward), and every Adam/SGD step to an "adam" or
 * "sgd" row. Disabled (the default), the cost is one load of a flag per node.
 * The table is process-wide and not synchronised: enable it only while one
 * thread drives the plans (the pool's workers never touch it). */
#include "internal.h"
#include "ops.h"

#include <string.h>
#include <time.h>

enum { PROF_ADAM = TG_OP_COUNT, PROF_SGD, PROF_ROWS };

static struct {
    int on;
    double sec[PROF_ROWS][2];
    long calls[PROF_ROWS][2];
} prof;

int tg_prof_on(void) { return prof.on; }

double tg_prof_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void tg_prof_add(int row, int pass, double sec)
{
    if (row < 0 || row >= PROF_ROWS || pass < 0 || pass > 1) return;
    prof.sec[row][pass] += sec;
    prof.calls[row][pass]++;
}

int tg_prof_row_adam(void) { return PROF_ADAM; }
int tg_prof_row_sgd(void) { return PROF_SGD; }

void tg_profile_enable(int on) { prof.on = on != 0; }

void tg_profile_reset(void)
{
    int on = prof.on;
    memset(&prof, 0, sizeof prof);
    prof.on = on;
}

int tg_profile_rows(tg_profile_row *rows, int max)
{
    int n = 0;
    for (int r = 0; r < PROF_ROWS; r++)
        for (int pass = 0; pass < 2; pass++) {
            if (!prof.calls[r][pass]) continue;
            if (rows && n < max) {
                rows[n].what = r < TG_OP_COUNT ? tg_optab[r]->name : r == PROF_ADAM ? "adam" : "sgd";
                rows[n].pass = r >= TG_OP_COUNT ? "step" : pass ? "backward" : "forward";
                rows[n].seconds = prof.sec[r][pass];
                rows[n].calls = prof.calls[r][pass];
            }
            n++;
        }
    return n;
}
