/* fuzz_idx.c - the IDX reader (tools/formats/idx.c) on arbitrary files.
 *
 * The input is the file. Invariants: a failure leaves the array zeroed and a
 * message naming the file; a success is an unsigned-byte array of 1..4
 * positive dims whose product is the element count, and for an uncompressed
 * file the header spells those dims and the payload is exactly the rest of
 * the file; a successful read writes back (idx_write_ubyte) to the same bytes
 * and reads again to the same array. */
#include "fuzz.h"
#include "idx.h"

static void check_array(const idx_array *a)
{
    FUZZ_CHECK(a->type == IDX_UBYTE, "type 0x%02x", a->type);
    FUZZ_CHECK(a->ndim >= 1 && a->ndim <= IDX_MAX_DIMS, "ndim %d", a->ndim);
    uint64_t n = 1;
    for (int i = 0; i < a->ndim; i++) {
        FUZZ_CHECK(a->dims[i] > 0, "dims[%d] = %d", i, a->dims[i]);
        n *= (uint64_t)a->dims[i];
        FUZZ_CHECK(n <= IDX_MAX_BYTES, "dims exceed the cap");
    }
    FUZZ_CHECK(n == a->count, "dims multiply to %llu, count is %zu", (unsigned long long)n, a->count);
    FUZZ_CHECK(a->data != NULL, "no data");
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
    const char *path = fuzz_scratch(0, data, size);
    idx_array a;
    tg_error err = {0};
    int rc = idx_read(path, &a, &err);
    FUZZ_CHECK(rc >= TG_OK && rc <= TG_ERR_FORMAT, "status %d", rc);
    if (rc != TG_OK) {
        FUZZ_CHECK(a.data == NULL && a.count == 0 && a.ndim == 0, "a failed read left an array");
        FUZZ_CHECK_MSG(err);
        FUZZ_CHECK(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
        return 0;
    }
    check_array(&a);
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz) {
        size_t hlen = 4 + 4 * (size_t)a.ndim;
        FUZZ_CHECK(size == hlen + a.count, "file of %zu bytes, header %zu + data %zu", size, hlen, a.count);
        FUZZ_CHECK(data[0] == 0 && data[1] == 0 && data[2] == IDX_UBYTE && data[3] == a.ndim, "header");
        for (int i = 0; i < a.ndim; i++) {
            const uint8_t *d = data + 4 + 4 * i;
            uint32_t v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
            FUZZ_CHECK(v == (uint32_t)a.dims[i], "dim %d: header %u, read %d", i, v, a.dims[i]);
        }
        FUZZ_CHECK(!memcmp(a.data, data + hlen, a.count), "data differs from the file's payload");
    }
    /* write it back and read it again */
    const char *path2 = fuzz_scratch(1, "", 0);
    FUZZ_CHECK(idx_write_ubyte(path2, a.ndim, a.dims, a.data, &err) == TG_OK, "write back: %s", err.msg);
    idx_array b;
    FUZZ_CHECK(idx_read(path2, &b, &err) == TG_OK, "read back: %s", err.msg);
    FUZZ_CHECK(b.ndim == a.ndim && !memcmp(b.dims, a.dims, sizeof a.dims) && b.count == a.count &&
                   !memcmp(b.data, a.data, a.count),
               "the written file reads back differently");
    if (!gz) {
        FILE *f = fopen(path2, "rb");
        FUZZ_CHECK(f != NULL, "open %s", path2);
        unsigned char *back = malloc(size + 1);
        FUZZ_CHECK(back != NULL, "out of memory");
        size_t got = fread(back, 1, size + 1, f);
        fclose(f);
        FUZZ_CHECK(got == size && !memcmp(back, data, size), "the written file differs from the input");
        free(back);
    }
    idx_free(&b);
    idx_free(&a);
    FUZZ_CHECK(a.data == NULL && a.count == 0, "idx_free left data");
    return 0;
}
