/* test_crash.c - `tapegrad train-gan` killed with SIGKILL, many times, at
 * random moments, then resumed: a real training process (the built binary on
 * the 10-image IDX fixture, $TG_FIXTURES, with a small reference-preset model
 * and --eval-every 1 scored by a classifier trained here).
 *
 * Half the kills come after a random delay (0..KILL_MAX_MS after the start),
 * half inside a checkpoint write: the child runs with
 * $TAPEGRAD_TEST_RENAME_PAUSE_MS = PAUSE_MS, which holds every finished,
 * synced temporary file that long before its rename (tools/cli/cli.c); the test
 * watches the run folder for a new checkpoint.safetensors.tmp.XXXXXX and
 * kills within PAUSE_MS of seeing it. A kill is counted as inside the write
 * when the temporary file is still there afterwards.
 *
 * After every kill: the checkpoint, if there is one, never goes back and
 * loads (a --resume that trains nothing exits 0: in the run folder after even
 * kills, on a copy of the checkpoint after odd ones, so that the training
 * resumes see the logs as the kills left them too); metrics.csv and eval.csv
 * hold each step once, in order, up to at least the checkpoint's step, and
 * after a resume in the run folder up to exactly that step, with no temporary
 * file left. With no checkpoint yet the next start is a fresh --out.
 * After KILLS kills (or KILL_BUDGET_S seconds) the run finishes undisturbed,
 * and its checkpoint is byte-identical to an uninterrupted run's with the same
 * flags (checkpoints hold no times, and the paths they remember are the
 * same), its metrics.csv equal but for the elapsed_s column, its eval.csv
 * equal.
 *
 * The delays come from a fixed seed ($TG_CRASH_SEED overrides it); where a
 * kill lands still depends on the machine's timing. Children are reaped
 * before any assertion, and die with the test (PR_SET_PDEATHSIG). */
#include "check_main.h"
#include "run_bin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#define KILLS 30          /* kills before the run may finish */
#define KILL_BUDGET_S 30  /* stop killing after this long, whatever the count */
#define KILL_MAX_MS 400   /* random kills: 0..this after the start */
#define PAUSE_MS 40       /* TAPEGRAD_TEST_RENAME_PAUSE_MS of the killed runs */
#define WAIT_S 120        /* a child that runs longer than this has hung */
#define EPOCHS "12"

static char clf[256], run_dir[256];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_ms(double ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)((ms - 1000.0 * (long)(ms / 1000)) * 1e6)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static uint64_t rng_state;
static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rnd_ms(double hi) { return hi * (double)(rnd() >> 11) / 9007199254740992.0; }

/* ---- the training runs ---- */
/* argv of a train-gan run into dir: a fresh one (--out) or a resume */
static void train_argv(const char **a, const char *dir, int resume, const char *epochs)
{
    int n = 0;
    a[n++] = getenv("TAPEGRAD_BIN");
    a[n++] = "train-gan";
    a[n++] = resume ? "--resume" : "--out";
    a[n++] = dir;
    if (!resume) {
        const char *model[] = {"--batch", "1", "--g-hidden", "8", "--d-hidden", "8", "--z-dim", "4", "--seed", "7",
                               "--epochs", EPOCHS};
        for (size_t k = 0; k < sizeof model / sizeof *model; k++) a[n++] = model[k];
    }
    if (epochs) {
        a[n++] = "--epochs";
        a[n++] = epochs;
    }
    const char *more[] = {"--data", fixtures(), "--log-every", "1", "--eval-every", "1", "--classifier", clf,
                          "--threads", "1", "--quiet"};
    for (size_t k = 0; k < sizeof more / sizeof *more; k++) a[n++] = more[k];
    a[n] = NULL;
}

/* start a run (output to tmpdir/child.log) and return its pid */
static pid_t spawn(const char **argv, int pause)
{
    const char *log = path("child.log");
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
#if defined(__linux__)
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
#endif
        if (getppid() != parent) _exit(126);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        char ms[16];
        snprintf(ms, sizeof ms, "%d", PAUSE_MS);
        if (pause) setenv("TAPEGRAD_TEST_RENAME_PAUSE_MS", ms, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* waitpid without blocking: 1 and *st when pid has ended */
static int ended(pid_t pid, int *st) { return waitpid(pid, st, WNOHANG) == pid; }

static void kill_reap(pid_t pid, int *st)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, st, 0) < 0 && errno == EINTR) {
    }
}

/* checkpoint temporary files (checkpoint.safetensors.tmp.XXXXXX) */
typedef struct names {
    int n;
    char v[8][64];
} names;

static int in(const names *s, const char *name)
{
    for (int k = 0; k < s->n; k++)
        if (!strcmp(s->v[k], name)) return 1;
    return 0;
}

/* those in dir that are not in `old` (NULL: all) into *out; how many */
static int ckpt_tmps(const char *dir, const names *old, names *out)
{
    static const char pre[] = "checkpoint.safetensors.tmp.";
    DIR *d = opendir(dir);
    out->n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, pre, sizeof pre - 1) && strlen(e->d_name) < sizeof out->v[0] &&
            (!old || !in(old, e->d_name)) && out->n < 8)
            strcpy(out->v[out->n++], e->d_name);
    if (d) closedir(d);
    return out->n;
}

/* any *.tmp.* file left in dir or dir/samples */
static int any_tmp(const char *dir)
{
    char sub[300];
    snprintf(sub, sizeof sub, "%s/samples", dir);
    const char *dirs[2] = {dir, sub};
    int found = 0;
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(dirs[k]);
        struct dirent *e;
        while (d && (e = readdir(d))) found |= strstr(e->d_name, ".tmp.") != NULL;
        if (d) closedir(d);
    }
    return found;
}

/* the "step" in a checkpoint's safetensors metadata */
static long long ckpt_step(const char *p)
{
    size_t n;
    unsigned char *b = slurp_file(p, &n);
    ck_assert(n >= 8);
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = hl << 8 | b[k];
    ck_assert(hl <= n - 8);
    char *h = malloc(hl + 1);
    memcpy(h, b + 8, hl);
    h[hl] = 0;
    const char *s = strstr(h, "\"step\":\"");
    ck_assert_msg(s, "%s: no step in the metadata", p);
    long long v = strtoll(s + 8, NULL, 10);
    free(h);
    free(b);
    return v;
}

/* Check a CSV log: every complete row's step (field col) above the last;
 * returns the last step (0 if no rows) and the number of rows in *rows. */
static long long log_steps(const char *p, int col, int *rows, int strict)
{
    char *s = slurp_text(p);
    long long prev = 0;
    int n = 0, line = 1;
    char *q = strchr(s, '\n');
    while (q && q[1]) {
        char *row = q + 1, *e = strchr(row, '\n');
        if (!e) break; /* a torn last line: the resume cuts it */
        line++;
        char *f = row;
        for (int k = 0; k < col && f; k++) f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        ck_assert_msg(f, "%s line %d: no step field", p, line);
        long long v = strtoll(f, NULL, 10);
        if (strict)
            ck_assert_msg(v > prev, "%s line %d: step %lld after step %lld (a row logged twice)", p, line, v, prev);
        prev = v;
        n++;
        q = e;
    }
    free(s);
    if (rows) *rows = n;
    return prev;
}

/* metrics.csv without its elapsed_s column (the only one that depends on time) */
static char *metrics_untimed(const char *p)
{
    char *s = slurp_text(p), *o = s;
    for (char *r = s; *r;) {
        char *e = strchr(r, '\n'), *c = e;
        if (!e) break;
        while (c > r && c[-1] != ',') c--;
        size_t k = (size_t)(c - r);
        memmove(o, r, k);
        o += k;
        *o++ = '\n';
        r = e + 1;
    }
    *o = 0;
    return s;
}

static void setup(void)
{
    tmp_make("tg_crash");
    snprintf(clf, sizeof clf, "%s/clf/classifier.safetensors", tmpdir);
    snprintf(run_dir, sizeof run_dir, "%s/crash", tmpdir);
    result r = RUN("train-classifier", "--data", fixtures(), "--out", path("clf"), "--hidden", "8", "--epochs", "5",
                   "--batch", "5", "--threads", "1", "--quiet");
    ck_assert_msg(r.status == 0, "train-classifier: exit %d: %s", r.status, r.err);
    result_free(&r);
}

static void teardown(void) { tmp_remove(); }

/* Run argv to its end (at most WAIT_S); exit status, or -1 with the log in msg */
static int finish(const char **argv, int pause)
{
    int st = 0;
    pid_t pid = spawn(argv, pause);
    double t0 = now();
    while (!ended(pid, &st)) {
        if (now() - t0 > WAIT_S) {
            kill_reap(pid, &st);
            ck_abort_msg("%s %s did not finish in %d s", argv[1], argv[2], WAIT_S);
        }
        sleep_ms(5);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_kill_and_resume)
{
    const char *s = getenv("TG_CRASH_SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 10) : 20240611u;
    rng_state = seed;
    const char *argv[48];
    char ckpt[300];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", run_dir);

    /* the uninterrupted run */
    train_argv(argv, path("ref"), 0, NULL);
    ck_assert_int_eq(finish(argv, 0), 0);

    int kills = 0, in_write = 0, ahead = 0, fresh = 0, done = 0;
    long long last_step = 0;
    const double t0 = now();
    while (kills < KILLS && now() - t0 < KILL_BUDGET_S) {
        int have = access(ckpt, F_OK) == 0;
        fresh += !have;
        train_argv(argv, run_dir, have, NULL);
        int st = 0, gone = 0, mode = kills % 2;
        names old, now_, seen = {0}; /* temporary files: left before, there now, seen in this start */
        ckpt_tmps(run_dir, NULL, &old);
        pid_t pid = spawn(argv, 1);
        double start = now(), at = rnd_ms(KILL_MAX_MS), waited = 0;
        int want = 1 + (int)(rnd() % 2);
        while (!(gone = ended(pid, &st))) {
            if (mode == 0 && (now() - start) * 1000 >= at) break;
            if (mode == 1 && ckpt_tmps(run_dir, &old, &now_) && !in(&seen, now_.v[0])) {
                strcpy(seen.v[seen.n % 8], now_.v[0]);
                if (++seen.n == want) { /* inside this start's want'th checkpoint write */
                    sleep_ms(rnd_ms(PAUSE_MS));
                    break;
                }
            }
            if ((waited = now() - start) > WAIT_S) break;
            sleep_ms(0.5);
        }
        if (!gone) kill_reap(pid, &st);
        if (waited > WAIT_S) ck_abort_msg("the run hung (seed %llu)", (unsigned long long)seed);
        if (WIFEXITED(st)) { /* it finished (or failed) before the kill */
            char *log = slurp_text(path("child.log"));
            ck_assert_msg(WEXITSTATUS(st) == 0, "kill %d (seed %llu): exit %d: %s", kills, (unsigned long long)seed,
                          WEXITSTATUS(st), log);
            free(log);
            done = 1;
            break;
        }
        ck_assert_int_eq(WTERMSIG(st), SIGKILL);
        kills++;
        in_write += ckpt_tmps(run_dir, &old, &now_) > 0;
        if (access(ckpt, F_OK) != 0) continue; /* killed before the first checkpoint: start afresh */
        /* what the kill left: a checkpoint no older than the last one */
        long long step = ckpt_step(ckpt);
        ck_assert_msg(step >= last_step, "kill %d: the checkpoint went back from step %lld to %lld", kills, last_step,
                      step);
        last_step = step;
        /* logs with each step once, in order, up to the checkpoint at least
         * (rows beyond it are the resume's to cut) */
        char mp[300], ep[300];
        snprintf(mp, sizeof mp, "%s/metrics.csv", run_dir);
        snprintf(ep, sizeof ep, "%s/eval.csv", run_dir);
        long long m = log_steps(mp, 0, NULL, 1), v = log_steps(ep, 1, NULL, 1);
        ck_assert_msg(m >= step && v >= step, "kill %d: metrics.csv ends at step %lld, eval.csv at %lld, before the "
                      "checkpoint's %lld", kills, m, v, step);
        ahead += m > step;
        /* and a checkpoint that loads: a resume that trains nothing (--epochs
         * 1); in the run folder after even kills (then the logs end at the
         * checkpoint and no temporary file is left), on a copy of the
         * checkpoint after odd ones (so the next training resume cuts the
         * logs itself) */
        const char *verify[48];
        int here = kills % 2 == 0;
        if (!here) {
            mkdir(path("copy"), 0777);
            copy_file(ckpt, path("copy/checkpoint.safetensors"));
        }
        train_argv(verify, here ? run_dir : path("copy"), 1, "1");
        result r = run(verify + 1);
        ck_assert_msg(r.status == 0, "kill %d (seed %llu): the checkpoint does not load: %s", kills,
                      (unsigned long long)seed, r.err);
        result_free(&r);
        if (!here) continue;
        m = log_steps(mp, 0, NULL, 1);
        v = log_steps(ep, 1, NULL, 1);
        ck_assert_msg(m == step, "kill %d: after the resume metrics.csv ends at step %lld, the checkpoint at %lld",
                      kills, m, step);
        ck_assert_msg(v == step, "kill %d: after the resume eval.csv ends at step %lld, the checkpoint at %lld", kills,
                      v, step);
        ck_assert_msg(!any_tmp(run_dir), "kill %d: a temporary file is left after the resume", kills);
    }
    if (!done) { /* the rest undisturbed */
        train_argv(argv, run_dir, access(ckpt, F_OK) == 0, NULL);
        ck_assert_msg(finish(argv, 1) == 0, "the last resume failed: %s", slurp_text(path("child.log")));
    }
    printf("crash: seed %llu: %d kills in %.1f s: %d inside a checkpoint write, %d with log rows beyond the "
           "checkpoint, %d before any checkpoint\n", (unsigned long long)seed, kills, now() - t0, in_write, ahead,
           fresh - 1);
    fflush(stdout);
    ck_assert_msg(kills >= 10, "only %d kills landed", kills);
    ck_assert_msg(in_write >= 3, "only %d of %d kills landed inside a checkpoint write", in_write, kills);
    ck_assert_msg(ahead >= 3, "only %d kills left log rows beyond the checkpoint", ahead);

    /* the same bytes as the uninterrupted run */
    size_t na, nb;
    unsigned char *a = slurp_file(path("ref/checkpoint.safetensors"), &na);
    unsigned char *b = slurp_file(ckpt, &nb);
    ck_assert_msg(na == nb && !memcmp(a, b, na), "the resumed run's checkpoint differs from the uninterrupted run's");
    free(a);
    free(b);
    char mp[300], ep[300];
    snprintf(mp, sizeof mp, "%s/metrics.csv", run_dir);
    snprintf(ep, sizeof ep, "%s/eval.csv", run_dir);
    int rows;
    ck_assert_int_eq(log_steps(mp, 0, &rows, 1), 12 * 10);
    ck_assert_int_eq(rows, 12 * 10);
    ck_assert_int_eq(log_steps(ep, 1, &rows, 1), 12 * 10);
    ck_assert_int_eq(rows, 12);
    char *x = metrics_untimed(path("ref/metrics.csv")), *y = metrics_untimed(mp);
    ck_assert_msg(!strcmp(x, y), "metrics.csv differs from the uninterrupted run's (elapsed_s aside)");
    free(x);
    free(y);
    x = slurp_text(path("ref/eval.csv"));
    y = slurp_text(ep);
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
    ck_assert(!any_tmp(run_dir));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crash");
    TCase *c = tcase_create("kill");
    tcase_set_timeout(c, 300);
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_add_test(c, test_kill_and_resume);
    suite_add_tcase(s, c);
    return s;
}

int main(void) { return tg_run_suite(suite()); }
