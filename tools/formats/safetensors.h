/* safetensors.h - read and write checkpoints in the safetensors format.
 *
 * The format (https://github.com/huggingface/safetensors):
 *   8 bytes   N, little-endian uint64: the length of the header
 *   N bytes   UTF-8 JSON object: tensor name -> {"dtype": "F32", "shape": [2, 3],
 *             "data_offsets": [begin, end]}, plus an optional "__metadata__" object
 *             of string -> string; padded with trailing spaces (writers pad N to
 *             a multiple of 8)
 *   the rest  the data buffer: every tensor's bytes, little-endian, row-major,
 *             offsets relative to the buffer; the tensors cover it exactly,
 *             with no overlap, no hole and no trailing byte.
 *
 * Writing:  fill an array of st_tensor (the data is not copied) and of st_kv,
 *           then st_write(). The file is written under a temporary name, synced
 *           and renamed, so a crash never leaves a damaged file.
 * Reading:  st_open() reads and validates the whole file (it refuses headers
 *           over ST_MAX_HEADER bytes and files over ST_MAX_FILE bytes); then
 *           st_find() / st_get_f32() / st_meta() / st_entry_at(); st_close().
 *
 * Errors: functions that can fail return a tg_status and fill err (may be
 * NULL) with a one-line message, e.g. "safetensors: tensor 'G/l0.w'
 * data_offsets [0, 100] hold 100 bytes but F32 [100, 128] needs 51200":
 * TG_ERR_IO (cannot open, read or write the file), TG_ERR_FORMAT (the file
 * is not valid safetensors, or is over the size limits; a tensor or a
 * metadata key asked for is missing or not what is expected), TG_ERR_SHAPE
 * (st_get_f32: the tensor's dtype or shape is not the expected one),
 * TG_ERR_ARG (bad arguments to the writer, tensors too large), TG_ERR_NOMEM.
 * Nothing here prints or exits.
 *
 * The module is four files: safetensors_common.c (dtypes, UTF-8, messages),
 * safetensors_json.c (the header's JSON parser), safetensors_read.c and
 * safetensors_write.c; st_internal.h is what they share. */
#ifndef TG_SAFETENSORS_H
#define TG_SAFETENSORS_H

#include "tg_error.h"

#include <stddef.h>
#include <stdint.h>


#define ST_MAX_HEADER 100000000ull          /* the reference implementation's limit */
#define ST_MAX_FILE (4ull * 1024 * 1024 * 1024) /* 4 GiB */
#define ST_MAX_DEPTH 64                      /* JSON nesting limit of the header parser */

/* Every dtype of the format, in the reference implementation's order
 * (increasing alignment: the writer lays out the largest first). */
typedef enum st_dtype {
    ST_BOOL, ST_F4, ST_F6_E2M3, ST_F6_E3M2, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3,
    ST_F8_E8M0, ST_F8_E4M3FNUZ, ST_F8_E5M2FNUZ, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_C64, ST_F64, ST_I64, ST_U64,
    ST_NDTYPES
} st_dtype;

/* "F32", ...; "?" for a value out of range. */
const char *st_dtype_name(st_dtype dt);
/* Bits per element (4 for F4, 6 for F6_*, 8..64); 0 for a value out of range. */
int st_dtype_bits(st_dtype dt);

/* ---- writing ---- */

/* One tensor to write. Nothing is copied; everything must stay valid during
 * st_write(). data holds numel * bits / 8 bytes in host order (converted to
 * little-endian on a big-endian host); it may be NULL when that is 0. */
typedef struct st_tensor {
    const char *name;    /* UTF-8, unique, not "" nor "__metadata__" */
    st_dtype dtype;
    int ndim;            /* 0 for a scalar */
    const int *dims;     /* (ndim), each >= 0; may be NULL when ndim == 0 */
    const void *data;
} st_tensor;

/* One "__metadata__" pair: UTF-8 strings, unique keys. */
typedef struct st_kv {
    const char *key, *value;
} st_kv;

/* Write the tensors and metadata (nmeta may be 0: no "__metadata__") to path,
 * atomically. Header keys and the data are ordered like the reference
 * implementation: "__metadata__" first, then tensors by decreasing dtype
 * size, then by name; metadata keys by name. Returns TG_OK, TG_ERR_ARG
 * (also for tensors over the size limit), TG_ERR_NOMEM or TG_ERR_IO (path
 * untouched, no temporary file left). */
tg_status st_write(const char *path, const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta,
                   tg_error *err);

/* The same file built in memory instead: on success *buf (malloc'd, the
 * caller frees it) holds *len bytes, exactly what st_write would write. */
tg_status st_write_mem(const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta,
                       unsigned char **buf, size_t *len, tg_error *err);

/* 1 if s is valid UTF-8 (what st_write requires of names and metadata) */
int st_utf8_valid(const char *s);

/* ---- reading ---- */

typedef struct st_file st_file;

/* One tensor of an open file; valid until st_close(). */
typedef struct st_entry {
    const char *name;
    st_dtype dtype;
    int ndim;
    const uint64_t *dims;        /* (ndim) */
    uint64_t numel;              /* product of dims (1 for a scalar) */
    const unsigned char *data;   /* nbytes little-endian bytes, possibly unaligned */
    size_t nbytes;
    uint64_t begin, end;         /* data_offsets in the file */
} st_entry;

/* Read and validate a whole file. On success *out owns everything (free it
 * with st_close); on failure *out is NULL. */
tg_status st_open(const char *path, st_file **out, tg_error *err);
/* The same for a file already in memory (len bytes, copied). */
tg_status st_open_mem(const void *buf, size_t len, st_file **out, tg_error *err);
void st_close(st_file *f);

/* Tensors, sorted by name: st_entry_at(f, 0 .. st_count(f) - 1). */
size_t st_count(const st_file *f);
const st_entry *st_entry_at(const st_file *f, size_t i);
/* The tensor called name, or NULL. */
const st_entry *st_find(const st_file *f, const char *name);

/* Copy tensor `name` into dst (numel floats) after checking that it is F32
 * of exactly the expected shape (ndim dims; ndim 0 for a scalar). Returns
 * TG_ERR_FORMAT ("checkpoint has no tensor 'G/l0.w'") or TG_ERR_SHAPE
 * ("checkpoint tensor 'G/l0.w' is F32 [100, 64], model expects [100, 128]"). */
tg_status st_get_f32(const st_file *f, const char *name, int ndim, const int *dims, float *dst, tg_error *err);

/* "__metadata__": the value of key, or NULL; pairs sorted by key. */
const char *st_meta(const st_file *f, const char *key);
/* The value of a key that must be there: NULL with "<what> metadata has no
 * 'key'" in err otherwise. */
const char *st_meta_need(const st_file *f, const char *key, const char *what, tg_error *err);
/* A numeric value in [lo, hi]: TG_OK, or TG_ERR_FORMAT naming the key and
 * value. */
tg_status st_meta_num(const st_file *f, const char *key, double lo, double hi, double *out, const char *what,
                      tg_error *err);
/* A whole non-negative decimal integer (digits only) in [lo, hi]: TG_OK, or
 * TG_ERR_FORMAT naming the key and value. */
tg_status st_meta_uint(const st_file *f, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                       const char *what, tg_error *err);
size_t st_meta_count(const st_file *f);
const st_kv *st_meta_at(const st_file *f, size_t i);

#endif
