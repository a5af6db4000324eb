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
 * Errors: functions that can fail return ST_OK (0) or an ST_ERR_* code and
 * write a one-line message into err (errlen bytes, NUL-terminated; err may be
 * NULL), e.g. "safetensors: tensor 'G/l0.w' data_offsets [0, 100] hold 100
 * bytes but F32 [100, 128] needs 51200". Nothing here prints or exits. */
#ifndef TG_SAFETENSORS_H
#define TG_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

enum {
    ST_OK = 0,
    ST_ERR_IO,        /* cannot open, read or write the file */
    ST_ERR_FORMAT,    /* the file is not valid safetensors */
    ST_ERR_LIMIT,     /* the header or the file is too large */
    ST_ERR_ARG,       /* bad arguments to st_write */
    ST_ERR_NOMEM,     /* out of memory */
    ST_ERR_NOTFOUND,  /* st_get_f32: no tensor of that name */
    ST_ERR_MISMATCH,  /* st_get_f32: the tensor's dtype or shape is not the expected one */
};

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
 * size, then by name; metadata keys by name. Returns ST_OK, ST_ERR_ARG,
 * ST_ERR_LIMIT, ST_ERR_NOMEM or ST_ERR_IO (path untouched, no temporary file
 * left). */
int st_write(const char *path, const st_tensor *tensors, size_t ntensors,
             const st_kv *meta, size_t nmeta, char *err, size_t errlen);

/* The same file built in memory instead: on success *buf (malloc'd, the
 * caller frees it) holds *len bytes, exactly what st_write would write. */
int st_write_mem(const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta,
                 unsigned char **buf, size_t *len, char *err, size_t errlen);

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
int st_open(const char *path, st_file **out, char *err, size_t errlen);
/* The same for a file already in memory (len bytes, copied). */
int st_open_mem(const void *buf, size_t len, st_file **out, char *err, size_t errlen);
void st_close(st_file *f);

/* Tensors, sorted by name: st_entry_at(f, 0 .. st_count(f) - 1). */
size_t st_count(const st_file *f);
const st_entry *st_entry_at(const st_file *f, size_t i);
/* The tensor called name, or NULL. */
const st_entry *st_find(const st_file *f, const char *name);

/* Copy tensor `name` into dst (numel floats) after checking that it is F32
 * of exactly the expected shape (ndim dims; ndim 0 for a scalar). Returns
 * ST_ERR_NOTFOUND ("checkpoint has no tensor 'G/l0.w'") or ST_ERR_MISMATCH
 * ("checkpoint tensor 'G/l0.w' is F32 [100, 64], model expects [100, 128]"). */
int st_get_f32(const st_file *f, const char *name, int ndim, const int *dims, float *dst,
               char *err, size_t errlen);

/* "__metadata__": the value of key, or NULL; pairs sorted by key. */
const char *st_meta(const st_file *f, const char *key);
/* The value of a key that must be there: NULL with "<what> metadata has no
 * 'key'" in err otherwise. */
const char *st_meta_need(const st_file *f, const char *key, const char *what, char *err, size_t errlen);
/* A numeric value in [lo, hi]: ST_OK, or an error naming the key and value. */
int st_meta_num(const st_file *f, const char *key, double lo, double hi, double *out, const char *what,
                char *err, size_t errlen);
/* A whole non-negative decimal integer (digits only) in [lo, hi]: ST_OK, or
 * an error naming the key and value. */
int st_meta_uint(const st_file *f, const char *key, uint64_t lo, uint64_t hi, uint64_t *out, const char *what,
                 char *err, size_t errlen);
size_t st_meta_count(const st_file *f);
const st_kv *st_meta_at(const st_file *f, size_t i);

#endif
