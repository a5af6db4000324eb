/* fuzz_safetensors.c - the safetensors reader and its JSON header parser
 * (tools/formats/safetensors_*.c) on arbitrary files, and the writer on what it reads.
 *
 * The input is the file, read with st_open_mem. Invariants of a success:
 * tensors sorted by unique name, st_find finds each; every tensor's bytes are
 * numel * bits / 8 where numel is the product of its dims, lie inside the
 * data buffer and are the file's bytes there; the tensors cover the buffer
 * exactly; metadata sorted by unique key, st_meta finds each. Round trip:
 * what was read writes (st_write_mem) and reads back to the same tensors
 * and metadata, and writing that again gives the same bytes. A failure
 * returns no file and a message. */
#include "fuzz.h"
#include "safetensors.h"

#include <limits.h>

static uint64_t le64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static void check_file(const st_file *f, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(size >= 8, "a file shorter than 8 bytes was accepted");
    const uint64_t hlen = le64(data);
    FUZZ_CHECK(hlen >= 1 && hlen <= size - 8, "header length %llu", (unsigned long long)hlen);
    const uint8_t *buf = data + 8 + hlen;
    const uint64_t buflen = size - 8 - hlen, n = st_count(f);
    uint64_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        const st_entry *e = st_entry_at(f, i);
        FUZZ_CHECK(e && e->name && st_find(f, e->name) == e, "entry %zu is not found by name", i);
        if (i) FUZZ_CHECK(strcmp(st_entry_at(f, i - 1)->name, e->name) < 0, "names not sorted and unique");
        FUZZ_CHECK((unsigned)e->dtype < ST_NDTYPES && e->ndim >= 0, "dtype %d, ndim %d", (int)e->dtype, e->ndim);
        uint64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            FUZZ_CHECK(e->dims[d] == 0 || numel <= UINT64_MAX / e->dims[d], "numel overflows");
            numel *= e->dims[d];
        }
        FUZZ_CHECK(numel == e->numel, "numel %llu, dims give %llu", (unsigned long long)e->numel,
                   (unsigned long long)numel);
        const uint64_t bits = (uint64_t)st_dtype_bits(e->dtype);
        FUZZ_CHECK(numel <= UINT64_MAX / bits && numel * bits % 8 == 0 && numel * bits / 8 == e->nbytes,
                   "%zu bytes for %llu elements of %llu bits", e->nbytes, (unsigned long long)numel,
                   (unsigned long long)bits);
        FUZZ_CHECK(e->begin <= e->end && e->end - e->begin == e->nbytes && e->end <= buflen, "offsets");
        FUZZ_CHECK(!e->nbytes || !memcmp(e->data, buf + e->begin, e->nbytes), "tensor bytes differ from the file");
        covered += e->nbytes;
    }
    FUZZ_CHECK(covered == buflen, "tensors cover %llu of %llu data bytes", (unsigned long long)covered,
               (unsigned long long)buflen);
    for (size_t i = 0; i < st_meta_count(f); i++) {
        const st_kv *kv = st_meta_at(f, i);
        FUZZ_CHECK(kv && kv->key && kv->value && st_meta(f, kv->key) == kv->value, "metadata %zu not found", i);
        if (i) FUZZ_CHECK(strcmp(st_meta_at(f, i - 1)->key, kv->key) < 0, "metadata keys not sorted and unique");
    }
}

/* st_write_mem of everything f holds; 0 if f cannot be expressed through the
 * writer's API (a dim over INT_MAX) or holds a name the writer refuses (""). */
static int write_all(const st_file *f, unsigned char **out, size_t *len)
{
    const size_t n = st_count(f), nm = st_meta_count(f);
    size_t ndims = 0;
    for (size_t i = 0; i < n; i++) {
        const st_entry *e = st_entry_at(f, i);
        if (!e->name[0]) return 0;
        for (int d = 0; d < e->ndim; d++)
            if (e->dims[d] > INT_MAX) return 0;
        ndims += (size_t)e->ndim;
    }
    st_tensor *t = malloc((n ? n : 1) * sizeof *t);
    int *dims = malloc((ndims ? ndims : 1) * sizeof *dims);
    st_kv *kv = malloc((nm ? nm : 1) * sizeof *kv);
    FUZZ_CHECK(t && dims && kv, "out of memory");
    int *dp = dims;
    for (size_t i = 0; i < n; i++) {
        const st_entry *e = st_entry_at(f, i);
        for (int d = 0; d < e->ndim; d++) dp[d] = (int)e->dims[d];
        t[i] = (st_tensor){e->name, e->dtype, e->ndim, dp, e->data};
        dp += e->ndim;
    }
    for (size_t i = 0; i < nm; i++) kv[i] = *st_meta_at(f, i);
    tg_error err = {0};
    int rc = st_write_mem(t, n, kv, nm, out, len, &err);
    FUZZ_CHECK(rc == TG_OK, "what was read does not write: %s", err.msg);
    free(t);
    free(dims);
    free(kv);
    return 1;
}

static void check_same(const st_file *a, const st_file *b)
{
    FUZZ_CHECK(st_count(a) == st_count(b) && st_meta_count(a) == st_meta_count(b), "counts differ after a round trip");
    for (size_t i = 0; i < st_count(a); i++) {
        const st_entry *x = st_entry_at(a, i), *y = st_entry_at(b, i);
        FUZZ_CHECK(!strcmp(x->name, y->name) && x->dtype == y->dtype && x->ndim == y->ndim &&
                       x->nbytes == y->nbytes && (!x->ndim || !memcmp(x->dims, y->dims, (size_t)x->ndim * 8)) &&
                       (!x->nbytes || !memcmp(x->data, y->data, x->nbytes)),
                   "tensor %zu differs after a round trip", i);
    }
    for (size_t i = 0; i < st_meta_count(a); i++) {
        const st_kv *x = st_meta_at(a, i), *y = st_meta_at(b, i);
        FUZZ_CHECK(!strcmp(x->key, y->key) && !strcmp(x->value, y->value), "metadata %zu differs after a round trip",
                   i);
    }
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
    st_file *f = (st_file *)1;
    tg_error err = {0};
    int rc = st_open_mem(data, size, &f, &err);
    FUZZ_CHECK(rc >= TG_OK && rc <= TG_ERR_FORMAT, "status %d", rc);
    if (rc != TG_OK) {
        FUZZ_CHECK(f == NULL, "a failed open returned a file");
        FUZZ_CHECK_MSG(err);
        return 0;
    }
    check_file(f, data, size);
    unsigned char *w1 = NULL, *w2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (write_all(f, &w1, &n1)) {
        st_file *g = NULL;
        FUZZ_CHECK(st_open_mem(w1, n1, &g, &err) == TG_OK, "what was written does not read: %s", err.msg);
        check_file(g, w1, n1);
        check_same(f, g);
        FUZZ_CHECK(write_all(g, &w2, &n2) && n1 == n2 && !memcmp(w1, w2, n1), "writing is not repeatable");
        st_close(g);
    }
    free(w1);
    free(w2);
    st_close(f);
    return 0;
}
