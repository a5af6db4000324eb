/* dist_internal.h - what the MPI library's files share (not installed). */
#ifndef TG_DIST_INTERNAL_H
#define TG_DIST_INTERNAL_H

#include "tg_dist.h"

#include <mpi.h>
#include <stdint.h>

struct tg_dist {
    MPI_Comm comm; /* a duplicate of MPI_COMM_WORLD, returning errors */
    int rank, size;
    int finalize;  /* tg_dist_new initialized MPI */
};

/* groups as tg_plan_opts.groups: NULL or "" none, "*" all, or a comma list */
int tg_dist_group_match(const char *groups, const char *group);
/* The matching parameters of ps (state ones too when with_state), in store
 * order, into out (may be NULL); returns how many. */
int tg_dist_select(tg_params *ps, const char *groups, int with_state, tg_param **out);
/* Every rank holds the same names, groups, shapes (and state flags) for
 * these n parameters; else TG_ERR_ARG on every rank, naming `what`. */
tg_status tg_dist_check_same(tg_dist *d, tg_param *const *p, int n, const char *what, tg_error *err);
/* An MPI call returned rc != MPI_SUCCESS: TG_ERR_IO with MPI's message. */
tg_status tg_dist_mpi_fail(tg_error *err, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
