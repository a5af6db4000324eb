/* fixture.h - reader for the PyTorch fixture files of the ops, losses and
 * gan_grad suites (the .txt files in tests/fixtures/torch, written by
 * tests/fixtures/make_torch_fixtures.py; the format is documented there):
 *
 *     # comment
 *     NAME COUNT V0 V1 ... V(COUNT-1)
 *
 * Files are looked up in the directory named by the environment variable
 * TG_FIXTURES (tests/meson.build sets it). Every failure - TG_FIXTURES unset,
 * a missing or unreadable file, a malformed line, a missing record, a record
 * of the wrong length - returns NULL / 0 and leaves a message naming the file
 * and line or record in fx_error(); tests assert on it:
 *
 *     fx_file *f = fx_load("ops.txt");
 *     ck_assert_msg(f, "%s", fx_error());
 *     const double *y = fx_get(f, "relu.y", 39);
 *     ck_assert_msg(y, "%s", fx_error());
 */
#ifndef TG_TEST_FIXTURE_H
#define TG_TEST_FIXTURE_H

#include <stddef.h>

typedef struct fx_file fx_file;

/* Load and parse TG_FIXTURES/<name>; NULL on any error (see fx_error). */
fx_file *fx_load(const char *name);
void fx_free(fx_file *f);

/* The values of record `name`, which must hold exactly n values (n == 0:
 * any length). NULL if missing or of another length. Owned by f. */
const double *fx_get(const fx_file *f, const char *name, size_t n);
/* Number of values of record `name`; 0 if missing. */
size_t fx_count(const fx_file *f, const char *name);
/* Copy record `name` (exactly n values) into float dst; each value must be
 * exactly representable as a float (fixture inputs are float32-rounded).
 * Returns 1 on success, 0 on error (see fx_error). */
int fx_floats(const fx_file *f, const char *name, float *dst, size_t n);

/* Compare got[i] with want[i], i < n: pass iff every
 *     |got[i] - want[i]| <= rtol * max(|want[i]|, floor)
 * (floor: an absolute scale under which the check becomes absolute, e.g. a
 * fraction of max |want| for results with cancellation). Returns 1 on pass;
 * on failure 0, with the worst element, both values and the bound in
 * fx_error(), prefixed by `what`. */
int fx_close(const char *what, const double *got, const double *want, size_t n,
             double rtol, double floor);
/* max |v[i]| */
double fx_maxabs(const double *v, size_t n);

/* Message describing the last failure of any fx_* call. */
const char *fx_error(void);

/* The same as Check assertions: fail the running test case with fx_error(). */
fx_file *fx_need_file(const char *name);
const double *fx_need(const fx_file *f, const char *name, size_t n);
void fx_need_floats(const fx_file *f, const char *name, float *dst, size_t n);

/* tg_plan_new, failing the test case with the graph's message */
#include "tapegrad.h"
tg_plan *fx_plan(tg_graph *g, tg_node out, const tg_plan_opts *o);

#endif
