/* idx.h - IDX files (the MNIST format) and an MNIST loader on top.
 *
 * An IDX file is: two zero bytes, an element type byte, ndim, then ndim
 * big-endian uint32 dimensions, then the elements in row-major order.
 * Files are read raw or gzip-compressed (detected by the gzip magic 1f 8b).
 * Only element type 0x08 (unsigned byte, what MNIST uses) is supported; the
 * other types of the format (0x09 sbyte, 0x0B short, 0x0C int, 0x0D float,
 * 0x0E double) are rejected with an "unsupported element type" error.
 *
 * Everything is validated: magic, type, 1 <= ndim <= IDX_MAX_DIMS, every
 * dimension > 0, no overflow, at most IDX_MAX_BYTES of data, and the data
 * size exactly matching the (decompressed) file: a short file is an error
 * ("truncated: expected N bytes of data, file has M") and so are trailing
 * bytes. A corrupt gzip stream is an error, never a crash.
 *
 * Errors: every function returns a tg_status: TG_ERR_IO (cannot open, read
 * or write), TG_ERR_FORMAT (bad magic, type, ndim, dimension or size, an
 * unsupported element type, a corrupt gzip stream; for MNIST a bad shape, a
 * label out of range, a count mismatch), TG_ERR_NOMEM or TG_ERR_ARG, and
 * fills err (may be NULL) with a message naming the file. Nothing here
 * prints or exits; the caller owns what it gets back and frees it with
 * idx_free / mnist_free (both accept zeroed structs). */
#ifndef TG_IDX_H
#define TG_IDX_H

#include "tg_error.h"

#include <stddef.h>
#include <stdint.h>

#define IDX_MAX_DIMS 4
#define IDX_MAX_BYTES ((uint64_t)1 << 30) /* 1 GiB of data */
#define IDX_UBYTE 0x08


typedef struct idx_array {
    int type;                 /* element type byte: IDX_UBYTE */
    int ndim;                 /* 1..IDX_MAX_DIMS */
    int dims[IDX_MAX_DIMS];   /* dims[0..ndim-1], each > 0 */
    size_t count;             /* product of the dims */
    uint8_t *data;            /* count elements, row-major; owned, idx_free */
} idx_array;

/* Read `path` (raw or gzip) into *out. On failure *out is zeroed. */
tg_status idx_read(const char *path, idx_array *out, tg_error *err);
void idx_free(idx_array *a);

/* Write an unsigned-byte IDX file (uncompressed) atomically: to a temporary
 * file next to `path`, renamed over it on success (file_write_atomic). On
 * failure `path` is untouched and no temporary file is left. */
tg_status idx_write_ubyte(const char *path, int ndim, const int *dims, const uint8_t *data, tg_error *err);

/* An MNIST-style split: n images of h x w pixels and their labels. */
typedef struct mnist_set {
    int n, h, w;
    float *images;    /* (n, h*w): pixel p as p/127.5 - 1, in [-1, 1] */
    int32_t *labels;  /* (n): 0..9 */
} mnist_set;

/* Load split "train" or "test" from `dir`: <prefix>-images-idx3-ubyte and
 * <prefix>-labels-idx1-ubyte with prefix "train" or "t10k", each raw or with
 * ".gz" (the raw file is preferred when both exist). Images must be N x H x W
 * (MNIST: 28 x 28), labels N values in 0..9. Works for the original MNIST
 * (tools/fetch-mnist.sh) and Fashion-MNIST (Debian's dataset-fashion-mnist:
 * /usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz).
 * On failure *set is zeroed. */
tg_status mnist_load(const char *dir, const char *split, mnist_set *set, tg_error *err);
void mnist_free(mnist_set *set);

#endif
