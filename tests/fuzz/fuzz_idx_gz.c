/* fuzz_idx_gz.c - the IDX reader (tools/formats/idx.c) on gzip files.
 *
 * The first input byte chooses what the rest becomes:
 *   bit 0 = 0  an IDX file, gzip-compressed here (level: bits 1-4) and then
 *              cut short by bits 5-7 bytes (0..7). Uncut, the reader must
 *              give exactly what it gives for the same bytes uncompressed
 *              (status and array); cut, it must fail.
 *   bit 0 = 1  raw gzip bytes after the magic 1f 8b (headers, flags, corrupt
 *              deflate data and trailers): any result, no crash, no leak.
 * Every success is an unsigned-byte array whose dims multiply to its count. */
#include "fuzz.h"
#include "idx.h"

#include <zlib.h>

static void check_array(const idx_array *a)
{
    FUZZ_CHECK(a->type == IDX_UBYTE && a->ndim >= 1 && a->ndim <= IDX_MAX_DIMS && a->data, "array");
    uint64_t n = 1;
    for (int i = 0; i < a->ndim; i++) {
        FUZZ_CHECK(a->dims[i] > 0, "dims[%d] = %d", i, a->dims[i]);
        n *= (uint64_t)a->dims[i];
    }
    FUZZ_CHECK(n == a->count, "dims multiply to %llu, count is %zu", (unsigned long long)n, a->count);
}

/* gzip of data[0..n) at level; *out malloc'd */
static size_t gzip_bytes(const uint8_t *data, size_t n, int level, unsigned char **out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    FUZZ_CHECK(deflateInit2(&z, level, Z_DEFLATED, 9 + 16, 1, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL, "out of memory");
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    *out = buf;
    return len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const unsigned mode = data[0];
    const uint8_t *body = data + 1;
    const size_t n = size - 1;
    tg_error err = {0}, err2 = {0};
    idx_array a, b;
    if (mode & 1) {
        unsigned char *file = malloc(n + 2);
        FUZZ_CHECK(file != NULL, "out of memory");
        file[0] = 0x1f;
        file[1] = 0x8b;
        if (n) memcpy(file + 2, body, n);
        const char *path = fuzz_scratch(0, file, n + 2);
        free(file);
        int rc = idx_read(path, &a, &err);
        FUZZ_CHECK(rc >= TG_OK && rc <= TG_ERR_FORMAT, "status %d", rc);
        if (rc == TG_OK) check_array(&a);
        else {
            FUZZ_CHECK_MSG(err);
            FUZZ_CHECK(a.data == NULL && a.count == 0, "a failed read left an array");
        }
        idx_free(&a);
        return 0;
    }
    if (n >= 2 && body[0] == 0x1f && body[1] == 0x8b) return 0; /* would not read as a raw file */
    const int level = (int)((mode >> 1) & 15) % 10;
    const size_t cut = mode >> 5;
    unsigned char *gz;
    size_t glen = gzip_bytes(body, n, level, &gz);
    FUZZ_CHECK(glen > 18, "a gzip stream has a 10-byte header and an 8-byte trailer");
    const char *gzpath = fuzz_scratch(0, gz, glen - cut);
    free(gz);
    int rc = idx_read(gzpath, &a, &err);
    FUZZ_CHECK(rc >= TG_OK && rc <= TG_ERR_FORMAT, "status %d", rc);
    if (cut) {
        FUZZ_CHECK(rc != TG_OK, "a gzip stream missing its last %zu bytes was accepted", cut);
        FUZZ_CHECK_MSG(err);
        return 0;
    }
    const char *rawpath = fuzz_scratch(1, body, n);
    int rc2 = idx_read(rawpath, &b, &err2);
    FUZZ_CHECK(rc == rc2, "gzip read: %d (%s), the same bytes uncompressed: %d (%s)", rc, err.msg, rc2, err2.msg);
    if (rc == TG_OK) {
        check_array(&a);
        FUZZ_CHECK(a.ndim == b.ndim && !memcmp(a.dims, b.dims, sizeof a.dims) && a.count == b.count &&
                       !memcmp(a.data, b.data, a.count),
                   "gzip and uncompressed reads differ");
    } else {
        FUZZ_CHECK_MSG(err);
    }
    idx_free(&a);
    idx_free(&b);
    return 0;
}
