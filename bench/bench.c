/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident-bench: throughput, latency, memory and storage figures for
 * libevident, each printed next to a limit of this machine measured in the
 * same run, and the ratio of the two. docs/PERFORMANCE.md explains every row
 * and records the figures of a full run.
 *
 * Benchmarks never gate anything: this program prints numbers and exits 0
 * unless the library fails outright (an append or a verification returning an
 * error). Every timed figure is the median of --reps runs (default 5), with
 * min and max. Clock: CLOCK_MONOTONIC.
 *
 * It links the static internal library so that it can time the very hash
 * primitives the library uses (evi_sha256, evi_hmac_sha256) and drive the
 * proof algorithms (evi_prove_*) over an in-memory reader. It also talks to
 * OpenSSL directly, which the library proper never does outside crypto.c:
 * OpenSSL is the machine limit being measured here, not a dependency of the
 * code under test.
 *
 * fdatasync() and fsync() are interposed below (the library is linked in
 * statically, so its calls bind to these definitions) to count how many
 * syncs the library issues: that count gives the group-commit factor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/opensslv.h>

#include <evident/bundle.h>
#include <evident/config.h>
#include <evident/datakey.h>
#include <evident/error.h>
#include <evident/event.h>
#include <evident/jsonl.h>
#include <evident/log.h>
#include <evident/retention.h>
#include <evident/policy.h>
#include <evident/merkle.h>
#include <evident/note.h>
#include <evident/verify.h>

#include "crypto.h"
#include "entry.h"
#include "log-internal.h"
#include "store.h"
#include "tree.h"

#define MAX_REPS 15
#define MAX_ROWS 96
#define EVENT_COUNT 1024 /* distinct pre-made events, cycled */
#define TARGET_ENTRY_BYTES 300
#define APPEND_BATCH 256
#define GROUP_THREADS 8
#define PROOF_SAMPLES 10000
#define BYTES_PER_ENTRY_GUESS 420 /* entry + record + hashes + index, for the disk check */

/* ---- sync counting (see the top comment) ----------------------------------- */

static atomic_ulong fdatasync_calls;
static atomic_ulong fsync_calls;

int fdatasync(int fd)
{
    atomic_fetch_add(&fdatasync_calls, 1);
    return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
    atomic_fetch_add(&fsync_calls, 1);
    return (int)syscall(SYS_fsync, fd);
}

/* ---- options ---------------------------------------------------------------- */

struct options {
    bool quick;
    const char *dir; /* NULL: a fresh temporary directory under /var/tmp */
    bool keep;
    uint64_t proof_entries;  /* entries of the proof log */
    uint64_t append_entries; /* entries per run of the batch-append benchmark */
    uint64_t cli_lines;
    const char *cli;      /* path of the evident binary, NULL: next to the build */
    const char *cli_args; /* argument template, {dir} replaced; NULL: try the known forms */
    int reps;
    double group_seconds; /* length of one sync-always run */
    int fsync_iterations;
    double crypto_seconds; /* length of one primitive measurement */
    const char *only;      /* comma-separated sections, NULL: all */
};

static struct options opt;

static void usage(FILE *f)
{
    fprintf(f, "usage: evident-bench [--quick] [--dir DIR] [--keep] [--entries N] [--reps N]\n"
               "                     [--append-entries N] [--cli PATH] [--cli-args TEMPLATE]\n"
               "                     [--cli-lines N] [--only SECTIONS]\n"
               "\n"
               "  --quick            small sizes (a smoke run; asserts nothing)\n"
               "  --dir DIR          bench directory (default: a fresh directory under /var/tmp,\n"
               "                     removed afterwards); must be on the filesystem to measure\n"
               "  --keep             keep the logs made in the bench directory\n"
               "  --entries N        entries of the proof log (default 10000000, quick 100000)\n"
               "  --append-entries N entries per batch-append run (default 1000000, quick 20000)\n"
               "  --reps N           repetitions of each timed measurement (default 5)\n"
               "  --cli PATH         the evident binary (default: src/cli/evident of this build)\n"
               "  --cli-args T       its arguments, {dir} replaced by the log directory\n"
               "                     (default: try '-d {dir} append --jsonl --sync never' and\n"
               "                     two other forms on one line first)\n"
               "  --cli-lines N      JSON lines piped into the CLI (default 500000, quick 5000)\n"
               "  --only SECTIONS    comma-separated: limits,append,typed,verify,compress,\n"
               "                     retention,encrypt,group,proofs,history,cli\n"
               "                     (without 'limits' no ratios are computed: for profiling)\n");
}

static bool want(const char *section)
{
    if (opt.only == NULL) {
        return true;
    }
    size_t n = strlen(section);
    for (const char *p = opt.only; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, section, n) == 0) {
            return true;
        }
        p += len + (end != NULL);
    }
    return false;
}

static uint64_t parse_count(const char *flag, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K') {
        mult = 1000;
        end++;
    } else if (*end == 'M' || *end == 'm') {
        mult = 1000000;
        end++;
    }
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v > UINT64_MAX / mult) {
        fprintf(stderr, "evident-bench: %s '%s' is not a positive count\n", flag, text);
        exit(2);
    }
    return (uint64_t)v * mult;
}

/* ---- small helpers ---------------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("evident-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void check(int r, const char *what)
{
    if (r < 0) {
        die("%s failed: %s (%s)", what, ev_strerror(r), ev_last_error());
    }
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void progress(const char *fmt, ...)
{
    va_list ap;
    fputs("  .. ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double seconds_since(uint64_t t0)
{
    return (double)(now_ns() - t0) / 1e9;
}

/* CPU time of the calling thread (primitive loops) or of the process (library calls). */
static uint64_t cpu_ns(clockid_t clock)
{
    struct timespec ts;
    (void)clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Nanoseconds the calling thread has spent runnable but waiting for a CPU
 * (/proc/thread-self/schedstat, second field): the time other tenants of a
 * shared machine took from a single-threaded measurement. 0 if unavailable.
 */
static uint64_t run_queue_ns(void)
{
    unsigned long long on_cpu = 0, waiting = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "re");
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &on_cpu, &waiting) != 2) {
        waiting = 0;
    }
    (void)fclose(f);
    return waiting;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* xorshift64*: reproducible, and the C library generator is banned. */
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double v[MAX_REPS];
    int n;
};

static void stats_add(struct stats *s, double v)
{
    if (s->n < MAX_REPS) {
        s->v[s->n++] = v;
    }
}

static double stats_median(const struct stats *s)
{
    double c[MAX_REPS];
    if (s->n == 0) {
        return 0;
    }
    memcpy(c, s->v, (size_t)s->n * sizeof(double));
    qsort(c, (size_t)s->n, sizeof(double), cmp_double);
    return s->n % 2 ? c[s->n / 2] : (c[s->n / 2 - 1] + c[s->n / 2]) / 2;
}

static double stats_min(const struct stats *s)
{
    double m = s->n ? s->v[0] : 0;
    for (int i = 1; i < s->n; i++) {
        m = s->v[i] < m ? s->v[i] : m;
    }
    return m;
}

static double stats_max(const struct stats *s)
{
    double m = s->n ? s->v[0] : 0;
    for (int i = 1; i < s->n; i++) {
        m = s->v[i] > m ? s->v[i] : m;
    }
    return m;
}

/* Percentile (0..100) of n sorted samples. */
static uint64_t percentile(const uint64_t *sorted, size_t n, double p)
{
    size_t k = (size_t)((double)(n - 1) * p / 100.0 + 0.5);
    return sorted[k < n ? k : n - 1];
}

/* Formats v with thousands separators and the given decimals. */
static const char *fmt_num(char *buf, size_t cap, double v, int decimals)
{
    char raw[64];
    (void)snprintf(raw, sizeof(raw), "%.*f", decimals, v);
    const char *dot = strchr(raw, '.');
    size_t int_len = dot != NULL ? (size_t)(dot - raw) : strlen(raw);
    size_t start = raw[0] == '-';
    size_t o = 0;
    for (size_t i = 0; i < int_len && o + 2 < cap; i++) {
        if (i > start && (int_len - i) % 3 == 0) {
            buf[o++] = ',';
        }
        buf[o++] = raw[i];
    }
    if (dot != NULL) {
        for (const char *p = dot; *p != '\0' && o + 1 < cap; p++) {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---- the results table ------------------------------------------------------ */

enum goal { GOAL_NONE, GOAL_AT_LEAST, GOAL_AT_MOST };

struct row {
    char section[40];
    char name[96];
    char unit[16];
    double med, min, max;
    bool single; /* one value, not a median of runs */
    int decimals;
    enum goal goal;
    double target;
    char target_text[32];
    double limit; /* 0: no machine limit for this row */
    char limit_name[72];
    bool skipped;
    char note[200];
};

static struct row rows[MAX_ROWS];
static int row_count;
static char notes[32][320];
static int note_count;

static void add_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void add_note(const char *fmt, ...)
{
    va_list ap;
    if (note_count >= 32) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(notes[note_count++], sizeof(notes[0]), fmt, ap);
    va_end(ap);
}

static struct row *add_row(const char *section, const char *name, const char *unit,
                           const struct stats *s, int decimals)
{
    struct row *r;
    if (row_count >= MAX_ROWS) {
        die("too many result rows");
    }
    r = &rows[row_count++];
    memset(r, 0, sizeof(*r));
    (void)snprintf(r->section, sizeof(r->section), "%s", section);
    (void)snprintf(r->name, sizeof(r->name), "%s", name);
    (void)snprintf(r->unit, sizeof(r->unit), "%s", unit);
    r->decimals = decimals;
    if (s != NULL) {
        r->med = stats_median(s);
        r->min = stats_min(s);
        r->max = stats_max(s);
        r->single = s->n <= 1;
    }
    if (s != NULL) {
        char m[48];
        fprintf(stderr, "  %-64s %s %s\n", name, fmt_num(m, sizeof(m), r->med, decimals), unit);
    }
    return r;
}

static struct row *add_value(const char *section, const char *name, const char *unit, double v,
                             int decimals)
{
    struct stats s = {.n = 0};
    stats_add(&s, v);
    return add_row(section, name, unit, &s, decimals);
}

static void set_target(struct row *r, enum goal goal, double target, const char *text)
{
    r->goal = goal;
    r->target = target;
    (void)snprintf(r->target_text, sizeof(r->target_text), "%s", text);
}

static void set_limit(struct row *r, double limit, const char *name)
{
    r->limit = limit;
    (void)snprintf(r->limit_name, sizeof(r->limit_name), "%s", name);
}

static void add_skip(const char *section, const char *name, const char *why)
{
    struct row *r = add_row(section, name, "", NULL, 0);
    r->skipped = true;
    (void)snprintf(r->note, sizeof(r->note), "%s", why);
}

static void print_row(const struct row *r)
{
    char a[48], b[48], c[48], d[48];

    if (r->skipped) {
        printf("| %s | skipped | | | | | | %s |\n", r->name, r->note);
        return;
    }
    char range[100];
    if (!r->single) {
        (void)snprintf(range, sizeof(range), "%s .. %s", fmt_num(a, sizeof(a), r->min, r->decimals),
                       fmt_num(b, sizeof(b), r->max, r->decimals));
    } else {
        (void)snprintf(range, sizeof(range), "(1 run)");
    }
    char limit[120] = "—", ratio[32] = "—";
    if (r->limit > 0) {
        (void)snprintf(limit, sizeof(limit), "%s (%s)",
                       fmt_num(c, sizeof(c), r->limit, r->limit >= 100 ? 0 : 2), r->limit_name);
        (void)snprintf(ratio, sizeof(ratio), "%.2f", r->med / r->limit);
    }
    const char *verdict = "";
    if (r->goal == GOAL_AT_LEAST) {
        verdict = r->med >= r->target ? "met" : "**not met**";
    } else if (r->goal == GOAL_AT_MOST) {
        verdict = r->med <= r->target ? "met" : "**not met**";
    }
    char verdict_text[260];
    (void)snprintf(verdict_text, sizeof(verdict_text), "%s%s%s", verdict,
                   verdict[0] != '\0' && r->note[0] != '\0' ? ": " : "", r->note);
    printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", r->name,
           fmt_num(d, sizeof(d), r->med, r->decimals), range, r->unit,
           r->target_text[0] != '\0' ? r->target_text : "—", limit, ratio, verdict_text);
}

/* Prints the rows grouped by section, sections in the order they first appeared. */
static void print_table(void)
{
    bool printed[MAX_ROWS] = {false};

    printf("\n| measurement | median | min .. max | unit | target | machine limit (same run) "
           "| ratio | verdict |\n");
    printf("|---|---:|---:|---|---|---|---:|---|\n");
    for (int i = 0; i < row_count; i++) {
        if (printed[i]) {
            continue;
        }
        printf("| **%s** | | | | | | | |\n", rows[i].section);
        for (int j = i; j < row_count; j++) {
            if (!printed[j] && strcmp(rows[j].section, rows[i].section) == 0) {
                print_row(&rows[j]);
                printed[j] = true;
            }
        }
    }
    if (note_count > 0) {
        printf("\nNotes:\n");
        for (int i = 0; i < note_count; i++) {
            printf("- %s\n", notes[i]);
        }
    }
}

/* ---- files and directories --------------------------------------------------- */

static char bench_dir[PATH_MAX];
static bool bench_dir_is_temp;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP) {
        return rmdir(path) < 0 ? -1 : 0;
    }
    return unlink(path) < 0 ? -1 : 0;
}

static void remove_tree(const char *path)
{
    if (opt.keep) {
        return;
    }
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) {
        fprintf(stderr, "evident-bench: cannot remove '%s': %s\n", path, strerror(errno));
    }
}

static void sub_path(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", bench_dir, name);
    if (n < 0 || (size_t)n >= cap) {
        die("path too long under '%s'", bench_dir);
    }
}

struct dir_usage {
    uint64_t apparent;  /* sum of st_size */
    uint64_t allocated; /* sum of st_blocks * 512 */
    uint64_t files;
};

static struct dir_usage usage_acc;

static int usage_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (type == FTW_F) {
        usage_acc.apparent += (uint64_t)st->st_size;
        usage_acc.allocated += (uint64_t)st->st_blocks * 512u;
        usage_acc.files++;
    }
    return 0;
}

static struct dir_usage dir_usage(const char *path)
{
    memset(&usage_acc, 0, sizeof(usage_acc));
    if (nftw(path, usage_visit, 32, FTW_PHYS) < 0) {
        die("cannot walk '%s': %s", path, strerror(errno));
    }
    return usage_acc;
}

static const char *fs_name(const char *path)
{
    struct statfs sf;
    if (statfs(path, &sf) < 0) {
        return "unknown";
    }
    switch ((unsigned long)sf.f_type) {
    case 0xEF53: return "ext4 (or ext2/3)";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    case 0xF2F52010: return "f2fs";
    default: return "other";
    }
}

static uint64_t free_bytes(const char *path)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0) {
        return 0;
    }
    return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

/* Reads a whole file once so that it sits in the page cache. */
static void warm_file(const char *path)
{
    static char buf[1 << 20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    (void)close(fd);
}

/* VmRSS and VmHWM of this process, in KiB. */
static void memory_kib(uint64_t *ret_rss, uint64_t *ret_hwm)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "re");
    *ret_rss = *ret_hwm = 0;
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long v;
        if (sscanf(line, "VmRSS: %llu kB", &v) == 1) {
            *ret_rss = v;
        } else if (sscanf(line, "VmHWM: %llu kB", &v) == 1) {
            *ret_hwm = v;
        }
    }
    (void)fclose(f);
}

/* Resets VmHWM to the current RSS (Linux >= 4.0); false if refused. */
static bool reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, "5", 1) == 1;
    if (fd >= 0) {
        (void)close(fd);
    }
    return ok;
}

/* ---- events ------------------------------------------------------------------ */

static struct ev_event events[EVENT_COUNT];        /* data keys as a producer writes them */
static struct ev_event events_sorted[EVENT_COUNT]; /* the same data already canonical */
static char *event_data[2][EVENT_COUNT];

/* Custom types: the CLI checks built-in type names against their schemas (bench_typed does those).
 */
static const char *const event_types[] = {
    "custom.exec",
    "custom.container",
    "custom.security",
    "custom.resource",
};

/*
 * Makes EVENT_COUNT distinct events whose entries come out at about
 * TARGET_ENTRY_BYTES with a 7-digit seq and the library's default source,
 * twice: once with the data keys in a producer's order (the library must
 * canonicalize them, FORMAT.md §5) and once already canonical (sorted,
 * compact), which the library may take as it is. Both give the same entries.
 */
static void make_events(void)
{
    const char *source = evi_default_source();
    for (int i = 0; i < EVENT_COUNT; i++) {
        const char *type = event_types[i % 4];
        int severity = (i % 7 == 0) ? EV_SEV_WARNING : EV_SEV_INFO;
        char body[512], session[32], cwd[64], argv[96];
        /* `{"v":1,"seq":` seq `,"ts":"` ts `",` then the body. */
        size_t prefix = 13 + 7 + 7 + EVI_TS_LEN + 2;
        int n = snprintf(body, sizeof(body),
                         "\"type\":\"%s\",\"severity\":\"%s\",\"source\":%s,"
                         "\"data\":}",
                         type, ev_severity_name(severity), source);
        int exit_code = i % 3 == 0 ? 1 : 0;
        (void)snprintf(session, sizeof(session), "s-%08" PRIx64, rng_next() & 0xffffffffu);
        (void)snprintf(cwd, sizeof(cwd), "/srv/sandbox/%05d", i);
        (void)snprintf(argv, sizeof(argv), "python3 -m pytest -q tests/test_%d.py", i);
        int fixed = snprintf(NULL, 0,
                             "{\"session\":\"%s\",\"exit_code\":%d,\"cwd\":\"%s\","
                             "\"argv\":\"%s\",\"pad\":\"\"}",
                             session, exit_code, cwd, argv);
        long pad_len = (long)TARGET_ENTRY_BYTES - (long)prefix - n - fixed;
        char pad[512];
        if (pad_len < 0) {
            pad_len = 0;
        }
        if (pad_len >= (long)sizeof(pad)) {
            pad_len = (long)sizeof(pad) - 1;
        }
        for (long k = 0; k < pad_len; k++) {
            pad[k] = (char)('a' + (rng_next() % 26));
        }
        pad[pad_len] = '\0';
        for (int form = 0; form < 2; form++) {
            char *data = NULL;
            int len = form == 0 ? asprintf(&data,
                                           "{\"session\":\"%s\",\"exit_code\":%d,\"cwd\":\"%s\","
                                           "\"argv\":\"%s\",\"pad\":\"%s\"}",
                                           session, exit_code, cwd, argv, pad)
                                : asprintf(&data,
                                           "{\"argv\":\"%s\",\"cwd\":\"%s\",\"exit_code\":%d,"
                                           "\"pad\":\"%s\",\"session\":\"%s\"}",
                                           argv, cwd, exit_code, pad, session);
            if (len < 0) {
                die("out of memory");
            }
            event_data[form][i] = data;
            struct ev_event e = {
                .type = type, .severity = severity, .source_json = NULL, .data_json = data};
            if (form == 0) {
                events[i] = e;
            } else {
                events_sorted[i] = e;
            }
        }
    }
}

/* A representative assembled entry of TARGET_ENTRY_BYTES, for the primitive loops. */
static size_t sample_entry(char *out, size_t cap)
{
    struct evi_entry_body body;
    check(evi_entry_body_make(&events[1], false, &body), "making an entry body");
    long len = evi_entry_assemble(1234567, 1800000000123456789, &body, out, cap);
    evi_entry_body_free(&body);
    if (len < 0) {
        die("cannot assemble a sample entry");
    }
    return (size_t)len;
}

/* ---- a log ------------------------------------------------------------------- */

static void create_log(const char *dir, uint8_t ret_v[EV_VERIFICATION_KEY_BYTES])
{
    struct ev_create_options co = {.origin = "bench.evident.example/log"};
    remove_tree(dir);
    check(ev_log_create(dir, &co, ret_v), "ev_log_create");
}

static struct ev_log *open_log(const char *dir, enum ev_sync sync)
{
    struct ev_open_options oo = {.sync = sync};
    struct ev_log *log = NULL;
    check(ev_log_open(dir, &oo, &log), "ev_log_open");
    return log;
}

struct entry_sum {
    uint64_t bytes, entries;
};

static int sum_visit(void *ctx, const struct ev_entry *e)
{
    struct entry_sum *s = ctx;
    s->bytes += e->len;
    s->entries++;
    return 0;
}

/* Exact sum of the entry bytes of a closed log, read back through the API. */
static struct entry_sum sum_entries(const char *dir)
{
    struct ev_open_options oo = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = NULL;
    struct entry_sum s = {0, 0};
    check(ev_log_open(dir, &oo, &log), "ev_log_open (read-only)");
    check(ev_log_scan(log, 0, ev_log_size(log), NULL, sum_visit, &s), "ev_log_scan");
    (void)ev_log_close(log);
    return s;
}

/* ---- machine limits ---------------------------------------------------------- */

struct limits {
    double sha300_evp, sha300_evi, sha64_evp, sha64_evi, sha64_evp_ctx;
    double hmac40_ossl, hmac40_evi, hmac64_ossl, hmac64_evi;
    double crc_record;        /* CRC32C of one sample record, per second */
    double writer_ceiling;    /* entries/s: the hashing one append needs, nothing else */
    double verify_pk_ceiling; /* entries/s: hashing of a public-key verification */
    double verify_v_ceiling;  /* entries/s: the same plus the two tag HMACs */
    double fsync_median_us, fsync_p99_us, fsync_per_s;
    double record_sync_per_s; /* record-sized append + fdatasync per second */
    double seq_write_mb_s;
    double node_hash_ns;
    size_t record_bytes; /* record of the sample entry: 44 + entry */
    double body_make_us, body_make_sorted_us, assemble_us; /* per entry, CPU time */
};

static struct limits lim;

/*
 * Runs op in a loop for about crypto_seconds of this thread's CPU time and
 * returns calls per CPU-second: the capability of one core, which other
 * tenants of a shared machine change far less than they change wall time.
 */
#define RATE_LOOP(result, op)                                                                      \
    do {                                                                                           \
        uint64_t t0_ = cpu_ns(CLOCK_THREAD_CPUTIME_ID), calls_ = 0;                                \
        uint64_t budget_ = (uint64_t)(opt.crypto_seconds * 1e9);                                   \
        do {                                                                                       \
            for (int k_ = 0; k_ < 200; k_++) {                                                     \
                op;                                                                                \
            }                                                                                      \
            calls_ += 200;                                                                         \
        } while (cpu_ns(CLOCK_THREAD_CPUTIME_ID) - t0_ < budget_);                                 \
        (result) = (double)calls_ / ((double)(cpu_ns(CLOCK_THREAD_CPUTIME_ID) - t0_) / 1e9);       \
    } while (0)

static volatile uint8_t sink;

static void measure_primitives(void)
{
    uint8_t in[512], out[EVP_MAX_MD_SIZE], key[32], chain[32], leaf[32], tag[32], rkey[32];
    unsigned int out_len;
    char entry[1024];
    size_t entry_len = sample_entry(entry, sizeof(entry));
    struct evi_entry_body body;
    struct stats s300evp = {0}, s300evi = {0}, s64evp = {0}, s64evi = {0}, s64ctx = {0};
    struct stats h40o = {0}, h40e = {0}, h64o = {0}, h64e = {0}, crc = {0};
    struct stats wceil = {0}, vpk = {0}, vv = {0}, node = {0}, bm = {0}, bms = {0}, asm_ = {0};
    struct stats jl = {0};
    /* A JSON line as evident-loadgen sends events to evidentd, and as the CLI reads them. */
    static const char jsonl_line[] =
        "{\"type\":\"custom.bench\",\"severity\":\"info\",\"data\":{\"client\":3,\"user\":"
        "\"alice\",\"action\":\"file.read\",\"path\":\"/srv/data/report-0042.csv\","
        "\"bytes\":4138,\"seq\":123456}}";
    struct ev_jsonl_buffer *jb = NULL;
    struct ev_jsonl_event jev;
    check(ev_jsonl_buffer_new(&jb), "ev_jsonl_buffer_new");
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    static const char label_next[] = "evident next v1";

    if (md == NULL || ctx == NULL) {
        die("openssl cannot fetch SHA256");
    }
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (uint8_t)rng_next();
    }
    memcpy(key, in + 100, 32);
    memset(chain, 0, sizeof(chain));
    memcpy(rkey, key, 32);
    lim.record_bytes = entry_len + 44;

    progress("hash primitives (%d x %.2f s each)", opt.reps, opt.crypto_seconds);
    for (int rep = 0; rep < opt.reps; rep++) {
        double v;
        RATE_LOOP(v, (void)EVP_Digest(in, 300, out, &out_len, EVP_sha256(), NULL));
        stats_add(&s300evp, v);
        RATE_LOOP(v, evi_sha256(in, 300, out));
        stats_add(&s300evi, v);
        RATE_LOOP(v, (void)EVP_Digest(in, 64, out, &out_len, EVP_sha256(), NULL));
        stats_add(&s64evp, v);
        RATE_LOOP(v, evi_sha256(in, 64, out));
        stats_add(&s64evi, v);
        RATE_LOOP(v, (void)(EVP_DigestInit_ex2(ctx, md, NULL) && EVP_DigestUpdate(ctx, in, 64) &&
                            EVP_DigestFinal_ex(ctx, out, &out_len)));
        stats_add(&s64ctx, v);
        RATE_LOOP(v, (void)HMAC(EVP_sha256(), key, 32, in, 40, out, &out_len));
        stats_add(&h40o, v);
        RATE_LOOP(v, evi_hmac_sha256(key, in, 40, out));
        stats_add(&h40e, v);
        RATE_LOOP(v, (void)HMAC(EVP_sha256(), key, 32, in, 64, out, &out_len));
        stats_add(&h64o, v);
        RATE_LOOP(v, evi_hmac_sha256(key, in, 64, out));
        stats_add(&h64e, v);
        RATE_LOOP(v, sink ^= (uint8_t)evi_crc32c(0, entry, entry_len + 40));
        stats_add(&crc, v);
        RATE_LOOP(v, ev_node_hash(leaf, chain, out));
        stats_add(&node, 1e9 / v);

        /*
         * What one append must hash (FORMAT.md §4-§7): the leaf, the chain
         * step, the tag, the record-key step, on average one node of the tree
         * (each append completes one subtree on average), and the CRC32C of
         * the record. Nothing else: no JSON, no copies, no locks, no I/O.
         */
        RATE_LOOP(v, {
            ev_leaf_hash(entry, entry_len, leaf);
            evi_sha256_parts(chain, 32, leaf, 32, NULL, 0, chain);
            uint8_t msg[40] = {0};
            memcpy(msg + 8, chain, 32);
            /* As fskey.c: the record key prepared once for the tag and its successor. */
            struct evi_hmac_key hk;
            evi_hmac_key_init(&hk, rkey);
            evi_hmac_with(&hk, msg, sizeof(msg), tag);
            evi_hmac_with(&hk, label_next, sizeof(label_next) - 1, rkey);
            evi_hmac_key_wipe(&hk);
            ev_node_hash(leaf, tag, out);
            sink ^= (uint8_t)evi_crc32c(0, entry, entry_len + 40);
        });
        stats_add(&wceil, v);
        /* Public-key verification: leaf, chain, node, CRC. */
        RATE_LOOP(v, {
            ev_leaf_hash(entry, entry_len, leaf);
            evi_sha256_parts(chain, 32, leaf, 32, NULL, 0, chain);
            ev_node_hash(leaf, chain, out);
            sink ^= (uint8_t)evi_crc32c(0, entry, entry_len + 40);
        });
        stats_add(&vpk, v);
        /* With V: the same plus the record-key step and the tag. */
        RATE_LOOP(v, {
            ev_leaf_hash(entry, entry_len, leaf);
            evi_sha256_parts(chain, 32, leaf, 32, NULL, 0, chain);
            ev_node_hash(leaf, chain, out);
            sink ^= (uint8_t)evi_crc32c(0, entry, entry_len + 40);
            uint8_t msg[40] = {0};
            memcpy(msg + 8, chain, 32);
            /* As tagcheck.c: one preparation of the record key for both MACs. */
            struct evi_hmac_key hk;
            evi_hmac_key_init(&hk, rkey);
            evi_hmac_with(&hk, msg, sizeof(msg), tag);
            evi_hmac_with(&hk, label_next, sizeof(label_next) - 1, rkey);
            evi_hmac_key_wipe(&hk);
        });
        stats_add(&vv, v);

        /*
         * Library steps of an append that are not hashing, timed alone: the
         * event's JSON made canonical (per event form), and the entry prefix.
         */
        int ev = 0;
        RATE_LOOP(v, {
            check(evi_entry_body_make(&events[ev], false, &body), "evi_entry_body_make");
            evi_entry_body_free(&body);
            ev = (ev + 1) % EVENT_COUNT;
        });
        stats_add(&bm, 1e6 / v);
        RATE_LOOP(v, {
            check(evi_entry_body_make(&events_sorted[ev], false, &body), "evi_entry_body_make");
            evi_entry_body_free(&body);
            ev = (ev + 1) % EVENT_COUNT;
        });
        stats_add(&bms, 1e6 / v);
        check(evi_entry_body_make(&events[0], false, &body), "evi_entry_body_make");
        int64_t ts = 1800000000123456789;
        RATE_LOOP(v,
                  sink ^= (uint8_t)evi_entry_assemble(1234567, ts++, &body, entry, sizeof(entry)));
        evi_entry_body_free(&body);
        stats_add(&asm_, 1e6 / v);
        /* One JSON line read as an event (the fast reader's common case). */
        RATE_LOOP(v, {
            ev_jsonl_buffer_clear(jb);
            sink ^= (uint8_t)ev_jsonl_read(jb, jsonl_line, sizeof(jsonl_line) - 1, &jev);
        });
        stats_add(&jl, 1e6 / v);
    }
    ev_jsonl_buffer_free(jb);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);

    struct row *r;
    r = add_row("machine limits", "SHA-256 300 B, OpenSSL EVP_Digest one-shot", "hash/s", &s300evp,
                0);
    lim.sha300_evp = r->med;
    r = add_row("machine limits", "SHA-256 300 B, evi_sha256", "hash/s", &s300evi, 0);
    lim.sha300_evi = r->med;
    set_limit(r, lim.sha300_evp, "EVP one-shot");
    r = add_row("machine limits", "SHA-256 64 B, OpenSSL EVP_Digest one-shot", "hash/s", &s64evp,
                0);
    lim.sha64_evp = r->med;
    r = add_row("machine limits", "SHA-256 64 B, OpenSSL EVP, fetched MD + reused ctx", "hash/s",
                &s64ctx, 0);
    lim.sha64_evp_ctx = r->med;
    set_limit(r, lim.sha64_evp, "EVP one-shot");
    r = add_row("machine limits", "SHA-256 64 B, evi_sha256", "hash/s", &s64evi, 0);
    lim.sha64_evi = r->med;
    set_limit(r, lim.sha64_evp, "EVP one-shot");
    r = add_row("machine limits", "HMAC-SHA256 40 B, OpenSSL HMAC()", "mac/s", &h40o, 0);
    lim.hmac40_ossl = r->med;
    r = add_row("machine limits", "HMAC-SHA256 40 B, evi_hmac_sha256", "mac/s", &h40e, 0);
    lim.hmac40_evi = r->med;
    set_limit(r, lim.hmac40_ossl, "OpenSSL HMAC()");
    r = add_row("machine limits", "HMAC-SHA256 64 B, OpenSSL HMAC()", "mac/s", &h64o, 0);
    lim.hmac64_ossl = r->med;
    r = add_row("machine limits", "HMAC-SHA256 64 B, evi_hmac_sha256", "mac/s", &h64e, 0);
    lim.hmac64_evi = r->med;
    set_limit(r, lim.hmac64_ossl, "OpenSSL HMAC()");
    char name[96];
    (void)snprintf(name, sizeof(name), "CRC32C of one %zu-byte record, evi_crc32c", entry_len + 40);
    r = add_row("machine limits", name, "rec/s", &crc, 0);
    lim.crc_record = r->med;
    r = add_row("machine limits", "node hash (65 B), ev_node_hash", "ns", &node, 1);
    lim.node_hash_ns = r->med;
    (void)snprintf(name, sizeof(name),
                   "hashing floor of one %zu-byte append (leaf, chain, "
                   "2 HMAC, node, CRC)",
                   entry_len);
    r = add_row("machine limits", name, "entries/s", &wceil, 0);
    lim.writer_ceiling = r->med;
    r = add_row("machine limits",
                "hashing floor of verification, public key (leaf, chain, "
                "node, CRC)",
                "entries/s", &vpk, 0);
    lim.verify_pk_ceiling = r->med;
    r = add_row("machine limits", "hashing floor of verification with V (+ 2 HMAC)", "entries/s",
                &vv, 0);
    lim.verify_v_ceiling = r->med;
    r = add_row("where an append's CPU goes",
                "event JSON canonicalized, producer key order "
                "(evi_entry_body_make)",
                "µs", &bm, 2);
    lim.body_make_us = r->med;
    r = add_row("where an append's CPU goes",
                "event JSON already canonical "
                "(evi_entry_body_make)",
                "µs", &bms, 2);
    lim.body_make_sorted_us = r->med;
    r = add_row("where an append's CPU goes", "entry prefix: seq, ts (evi_entry_assemble)", "µs",
                &asm_, 2);
    lim.assemble_us = r->med;
    r = add_row("where an append's CPU goes",
                "JSON line read as an event, 158 B (ev_jsonl_read: CLI, evidentd)", "µs", &jl, 3);
    r = add_value("where an append's CPU goes", "hashing floor of one append", "µs",
                  1e6 / lim.writer_ceiling, 2);
    add_note("machine limits of CPU work (hash rates, hashing floors, the per-step costs) are "
             "calls per second of the measuring thread's CPU time, so that other tenants of a "
             "shared machine do not lower them; everything else is wall-clock time.");
}

enum sync_probe { PROBE_APPEND_4K, PROBE_APPEND_RECORD, PROBE_OVERWRITE_4K };

/*
 * iterations x (pwrite + fdatasync) on a fresh file; per-call latencies go to
 * lat (sorted on return); returns the calls per second of the whole loop.
 */
static double sync_probe(const char *path, enum sync_probe kind, size_t record, int iterations,
                         uint64_t *lat)
{
    static uint8_t block[4096];
    size_t size = kind == PROBE_APPEND_RECORD ? record : sizeof(block);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0) {
        die("cannot create '%s': %s", path, strerror(errno));
    }
    memset(block, 'x', sizeof(block));
    if (kind == PROBE_OVERWRITE_4K) {
        /* Allocated and durable first: then each write changes no metadata. */
        if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) || fsync(fd) < 0) {
            die("write/fsync of '%s': %s", path, strerror(errno));
        }
    }
    uint64_t t0 = now_ns();
    for (int i = 0; i < iterations; i++) {
        off_t off = kind == PROBE_OVERWRITE_4K ? 0 : (off_t)i * (off_t)size;
        uint64_t t = now_ns();
        if (pwrite(fd, block, size, off) != (ssize_t)size || fdatasync(fd) < 0) {
            die("write/fdatasync of '%s': %s", path, strerror(errno));
        }
        lat[i] = now_ns() - t;
    }
    double rate = iterations / seconds_since(t0);
    (void)close(fd);
    qsort(lat, (size_t)iterations, sizeof(uint64_t), cmp_u64);
    return rate;
}

static void measure_fsync(void)
{
    char path[PATH_MAX], name[96];
    int n = opt.fsync_iterations;
    uint64_t *lat = calloc((size_t)n, sizeof(uint64_t));
    size_t record = lim.record_bytes;

    if (lat == NULL) {
        die("out of memory");
    }
    sub_path(path, sizeof(path), "fsync-probe");
    for (int kind = 0; kind < 3; kind++) {
        struct stats med = {0}, p99 = {0}, rate = {0};
        static const char *const what[] = {"4 KiB append", "record append", "4 KiB overwrite"};
        progress("%s + fdatasync (%d x %d)", what[kind], opt.reps, n);
        for (int rep = 0; rep < opt.reps; rep++) {
            stats_add(&rate, sync_probe(path, (enum sync_probe)kind, record, n, lat));
            stats_add(&med, (double)percentile(lat, (size_t)n, 50) / 1e3);
            stats_add(&p99, (double)percentile(lat, (size_t)n, 99) / 1e3);
        }
        struct row *r;
        if (kind == PROBE_APPEND_4K) {
            r = add_row("machine limits", "4 KiB append + fdatasync, latency median", "µs", &med,
                        0);
            lim.fsync_median_us = r->med;
            r = add_row("machine limits", "4 KiB append + fdatasync, latency p99", "µs", &p99, 0);
            lim.fsync_p99_us = r->med;
            r = add_row("machine limits", "4 KiB append + fdatasync", "writes/s", &rate, 0);
            lim.fsync_per_s = r->med;
        } else if (kind == PROBE_APPEND_RECORD) {
            (void)snprintf(name, sizeof(name),
                           "%zu B append (one record) + fdatasync, latency "
                           "median",
                           record);
            r = add_row("machine limits", name, "µs", &med, 0);
            (void)snprintf(name, sizeof(name), "%zu B append (one record) + fdatasync", record);
            r = add_row("machine limits", name, "writes/s", &rate, 0);
            lim.record_sync_per_s = r->med;
        } else {
            r = add_row("machine limits", "4 KiB overwrite in place + fdatasync, latency median",
                        "µs", &med, 0);
            r = add_row("machine limits", "4 KiB overwrite in place + fdatasync", "writes/s", &rate,
                        0);
        }
    }
    free(lat);

    /* Sequential bandwidth to the same filesystem: 1 MiB writes, then one fdatasync. */
    struct stats bw = {0};
    size_t chunk = 1u << 20, total_bytes = opt.quick ? (8u << 20) : (128u << 20);
    uint8_t *big = malloc(chunk);
    if (big == NULL) {
        die("out of memory");
    }
    memset(big, 'y', chunk);
    progress("sequential write of %zu MiB + fdatasync (%d x)", total_bytes >> 20, opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            die("cannot create '%s': %s", path, strerror(errno));
        }
        uint64_t t0 = now_ns();
        for (size_t off = 0; off < total_bytes; off += chunk) {
            if (pwrite(fd, big, chunk, (off_t)off) != (ssize_t)chunk) {
                die("write of '%s': %s", path, strerror(errno));
            }
        }
        if (fdatasync(fd) < 0) {
            die("fdatasync of '%s': %s", path, strerror(errno));
        }
        stats_add(&bw, (double)total_bytes / 1e6 / seconds_since(t0));
        (void)close(fd);
    }
    free(big);
    (void)unlink(path);
    struct row *r = add_row("machine limits", "sequential write (1 MiB writes) + one fdatasync",
                            "MB/s", &bw, 0);
    lim.seq_write_mb_s = r->med;
}

/* ---- batch append, sync never -------------------------------------------------- */

static char verify_dir[PATH_MAX];
static uint8_t verify_v[EV_VERIFICATION_KEY_BYTES];
static double library_append_rate, library_append_cpu_rate;

/*
 * Appends count entries of the given event set in batches; returns the
 * wall-clock seconds spent in the append calls and adds their process CPU
 * time to *cpu_s (may be NULL).
 */
static double append_entries(struct ev_log *log, const struct ev_event *set, uint64_t count,
                             size_t batch, uint64_t *cursor, double *cpu_s)
{
    uint64_t c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns();
    for (uint64_t done = 0; done < count;) {
        size_t n = batch;
        if (count - done < n) {
            n = (size_t)(count - done);
        }
        size_t at = (size_t)(*cursor % (EVENT_COUNT / batch)) * batch;
        check(ev_log_append_batch(log, &set[at], n, NULL, NULL), "ev_log_append_batch");
        (*cursor)++;
        done += n;
    }
    double t = seconds_since(t0);
    if (cpu_s != NULL) {
        *cpu_s += (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
    }
    return t;
}

/* One form of the batch-append benchmark; keeps the last log in dir. */
static void append_runs(const char *dir, uint8_t v[EV_VERIFICATION_KEY_BYTES],
                        const struct ev_event *set, uint64_t n, const char *label)
{
    struct stats rate = {0}, cpu_rate = {0}, syncs = {0}, close_s = {0}, waiting = {0};
    char name[96];

    progress("batch append, sync never, 1 thread, batches of %d, %" PRIu64 " entries, %s (%d x)",
             APPEND_BATCH, n, label, opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        uint64_t cursor = 0;
        double cpu = 0;
        create_log(dir, v);
        struct ev_log *log = open_log(dir, EV_SYNC_NEVER);
        unsigned long s0 = atomic_load(&fdatasync_calls);
        uint64_t w0 = run_queue_ns();
        double t = append_entries(log, set, n, APPEND_BATCH, &cursor, &cpu);
        stats_add(&waiting, 100.0 * (double)(run_queue_ns() - w0) / 1e9 / t);
        stats_add(&syncs, (double)(atomic_load(&fdatasync_calls) - s0));
        stats_add(&rate, (double)n / t);
        stats_add(&cpu_rate, (double)n / cpu);
        uint64_t t0 = now_ns();
        check(ev_log_close(log), "ev_log_close");
        stats_add(&close_s, seconds_since(t0));
    }
    (void)snprintf(name, sizeof(name), "1 thread, batches of 256, %s", label);
    struct row *r = add_row("append, sync never", name, "entries/s", &rate, 0);
    set_target(r, GOAL_AT_LEAST, 400000, "≥ 400,000");
    set_limit(r, lim.writer_ceiling, "hashing floor");
    if (set == events_sorted) {
        library_append_rate = r->med;
    }
    (void)snprintf(name, sizeof(name), "  same, per CPU-second of the process");
    r = add_row("append, sync never", name, "entries/s", &cpu_rate, 0);
    set_limit(r, lim.writer_ceiling, "hashing floor");
    if (set == events_sorted) {
        library_append_cpu_rate = r->med;
    }
    r = add_row("append, sync never", "  wall time spent waiting for a CPU (other tenants)", "%",
                &waiting, 1);
    r = add_row("append, sync never", "  fdatasync calls per run (segment rotation, checkpoint)",
                "calls", &syncs, 0);
    r = add_row("append, sync never", "  ev_log_close after the run (sync + checkpoint)", "s",
                &close_s, 3);
}

static void bench_append(void)
{
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    char dir[PATH_MAX];

    sub_path(verify_dir, sizeof(verify_dir), "append-log");
    append_runs(verify_dir, verify_v, events, opt.append_entries, "producer key order");
    struct entry_sum es = sum_entries(verify_dir);
    double mean = (double)es.bytes / (double)es.entries;

    sub_path(dir, sizeof(dir), "append-sorted-log");
    append_runs(dir, v, events_sorted, opt.append_entries / 2, "JSON already canonical");
    remove_tree(dir);

    struct row *r =
        add_value("append, sync never", "mean entry size (read back)", "bytes", mean, 1);
    set_target(r, GOAL_NONE, 0, "≈ 300");
    /* The records must reach the disk at some point; at this rate they would need: */
    double disk_bytes_per_entry = mean + 44 + 64 + 8;
    r = add_value("append, sync never", "disk bandwidth the measured rate needs", "MB/s",
                  library_append_rate * disk_bytes_per_entry / 1e6, 1);
    set_limit(r, lim.seq_write_mb_s, "sequential write");
}

/* ---- typed events ---------------------------------------------------------- */

static struct ev_code_execution typed_events[EVENT_COUNT];
static char typed_text[EVENT_COUNT][3][160];

/* code_execution events as a sandbox records them: about 300-byte entries at level basic. */
static void make_typed_events(void)
{
    for (int i = 0; i < EVENT_COUNT; i++) {
        char *command = typed_text[i][0], *session = typed_text[i][1], *out = typed_text[i][2];
        (void)snprintf(command, 160, "python3 -m pytest -q tests/test_%d.py", i);
        (void)snprintf(session, 160, "s-%08" PRIx64, rng_next() & 0xffffffffu);
        (void)snprintf(out, 160, "%d passed, %d failed in 0.%02ds", 10 + i % 17, i % 3, i % 100);
        typed_events[i] = (struct ev_code_execution){
            .common = {.actor = {.user = "ci", .uid = EV_SOME_INT(1001), .session = session},
                       .outcome = i % 3 == 0 ? EV_OUTCOME_FAILURE : EV_OUTCOME_SUCCESS},
            .language = "python",
            .command = command,
            .sandbox_id = "sbx-7",
            .exit_code = EV_SOME_INT(i % 3 == 0 ? 1 : 0),
            .duration_ms = EV_SOME_INT(100 + i),
            .stdout_capture = {.data = out, .len = strlen(out)},
        };
    }
}

/*
 * Prepares and appends count typed events in batches; returns the seconds
 * taken and adds the process CPU seconds to *cpu_s.
 */
static double append_typed(struct ev_log *log, const struct ev_policy *policy, uint64_t count,
                           double *cpu_s)
{
    static struct ev_prepared prepared[APPEND_BATCH];
    uint64_t c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns(), cursor = 0;
    for (uint64_t done = 0; done < count;) {
        size_t n = APPEND_BATCH;
        if (count - done < n) {
            n = (size_t)(count - done);
        }
        for (size_t k = 0; k < n; k++) {
            check(ev_code_execution_prepare(policy, &typed_events[cursor++ % EVENT_COUNT],
                                            &prepared[k]),
                  "ev_code_execution_prepare");
        }
        check(ev_audit_append_prepared(log, prepared, n, NULL, NULL), "ev_audit_append_prepared");
        for (size_t k = 0; k < n; k++) {
            ev_prepared_release(&prepared[k]);
        }
        done += n;
    }
    double t = seconds_since(t0);
    *cpu_s += (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
    return t;
}

/* One event per call: ev_audit_code_execution (typed) or ev_log_append (plain). */
static double append_single(struct ev_log *log, const struct ev_policy *policy,
                            const struct ev_event *plain_set, uint64_t count, double *cpu_s)
{
    uint64_t c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns();
    for (uint64_t i = 0; i < count; i++) {
        if (plain_set != NULL) {
            check(ev_log_append(log, &plain_set[i % EVENT_COUNT], NULL), "ev_log_append");
        } else {
            check(ev_audit_code_execution(log, policy, &typed_events[i % EVENT_COUNT], NULL),
                  "ev_audit_code_execution");
        }
    }
    double t = seconds_since(t0);
    *cpu_s += (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
    return t;
}

/*
 * The cost of the audit model: typed code_execution events through the
 * library with the default policy (level basic, sanitization on) against a
 * plain batch append of the very bytes they produce. Runs alternate so that
 * both see the same machine.
 */
static void bench_typed(void)
{
    struct stats plain = {0}, typed = {0}, unsanitized = {0}, ratio = {0}, cpu_ratio = {0};
    struct stats single_plain = {0}, single_typed = {0}, single_ratio = {0}, single_cpu = {0};
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    char dir[PATH_MAX];
    struct ev_policy *policy = NULL, *no_sanitize = NULL;
    uint64_t n = opt.append_entries / 2;

    make_typed_events();
    check(ev_policy_new(NULL, &policy), "ev_policy_new");
    struct ev_config *config = NULL;
    check(ev_config_defaults(&config), "ev_config_defaults");
    config->privacy.sanitize = false;
    check(ev_policy_new(config, &no_sanitize), "ev_policy_new");
    ev_config_free(config);

    /* The same bytes, prepared once: what a plain append writes. */
    static struct ev_prepared same[EVENT_COUNT];
    static struct ev_event plain_events[EVENT_COUNT];
    size_t bytes = 0;
    for (int i = 0; i < EVENT_COUNT; i++) {
        check(ev_code_execution_prepare(policy, &typed_events[i], &same[i]), "prepare");
        plain_events[i] = same[i].event;
        bytes += strlen(same[i].event.data_json);
    }
    add_note("typed events: code_execution at level basic, data objects of %zu bytes on average",
             bytes / EVENT_COUNT);

    sub_path(dir, sizeof(dir), "typed-log");
    progress("typed append vs plain append of the same bytes, %" PRIu64 " entries (%d x)", n,
             opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        uint64_t cursor = 0;
        double cp = 0, ct = 0, cu = 0;
        create_log(dir, v);
        struct ev_log *log = open_log(dir, EV_SYNC_NEVER);
        double tp = append_entries(log, plain_events, n, APPEND_BATCH, &cursor, &cp);
        check(ev_log_close(log), "ev_log_close");
        remove_tree(dir);

        create_log(dir, v);
        log = open_log(dir, EV_SYNC_NEVER);
        double tt = append_typed(log, policy, n, &ct);
        check(ev_log_close(log), "ev_log_close");
        remove_tree(dir);

        create_log(dir, v);
        log = open_log(dir, EV_SYNC_NEVER);
        double tu = append_typed(log, no_sanitize, n, &cu);
        check(ev_log_close(log), "ev_log_close");
        remove_tree(dir);

        stats_add(&plain, (double)n / tp);
        stats_add(&typed, (double)n / tt);
        stats_add(&unsanitized, (double)n / tu);
        stats_add(&ratio, 100.0 * tp / tt);
        stats_add(&cpu_ratio, 100.0 * cp / ct);
        (void)cu;

        /* One event per call, as a producer without batches appends. */
        double sp_cpu = 0, st_cpu = 0;
        create_log(dir, v);
        log = open_log(dir, EV_SYNC_NEVER);
        double sp = append_single(log, NULL, plain_events, n / 2, &sp_cpu);
        check(ev_log_close(log), "ev_log_close");
        remove_tree(dir);
        create_log(dir, v);
        log = open_log(dir, EV_SYNC_NEVER);
        double st = append_single(log, policy, NULL, n / 2, &st_cpu);
        check(ev_log_close(log), "ev_log_close");
        remove_tree(dir);
        stats_add(&single_plain, (double)(n / 2) / sp);
        stats_add(&single_typed, (double)(n / 2) / st);
        stats_add(&single_ratio, 100.0 * sp / st);
        stats_add(&single_cpu, 100.0 * sp_cpu / st_cpu);
    }
    struct row *r = add_row("typed events", "plain append of the same bytes, batches of 256",
                            "entries/s", &plain, 0);
    set_limit(r, lim.writer_ceiling, "hashing floor");
    r = add_row("typed events",
                "ev_code_execution_prepare + ev_audit_append_prepared (basic, sanitized)",
                "entries/s", &typed, 0);
    set_limit(r, lim.writer_ceiling, "hashing floor");
    r = add_row("typed events", "  same, sanitization off", "entries/s", &unsanitized, 0);
    r = add_row("typed events", "typed rate as a share of plain, wall time (same run)", "%", &ratio,
                1);
    set_target(r, GOAL_AT_LEAST, 70, "≥ 70 (loses ≤ 30%)");
    r = add_row("typed events", "  the same share in CPU time (less sensitive to other tenants)",
                "%", &cpu_ratio, 1);
    set_target(r, GOAL_AT_LEAST, 70, "≥ 70");
    r = add_row("typed events", "one event per call: ev_log_append of the same bytes", "entries/s",
                &single_plain, 0);
    r = add_row("typed events", "one event per call: ev_audit_code_execution", "entries/s",
                &single_typed, 0);
    r = add_row("typed events", "  typed share of plain, one per call, wall time", "%",
                &single_ratio, 1);
    set_target(r, GOAL_AT_LEAST, 70, "≥ 70");
    r = add_row("typed events", "  the same share in CPU time", "%", &single_cpu, 1);
    set_target(r, GOAL_AT_LEAST, 70, "≥ 70");
    for (int i = 0; i < EVENT_COUNT; i++) {
        ev_prepared_release(&same[i]);
    }
    ev_policy_free(policy);
    ev_policy_free(no_sanitize);
}

/* ---- verification ------------------------------------------------------------ */

static void bench_verify(void)
{
    struct stats pk = {0}, withv = {0}, pk_cpu = {0}, withv_cpu = {0}, pk_wait = {0},
                 withv_wait = {0};
    struct ev_verify_report rep;
    uint64_t entries = 0;

    if (verify_dir[0] == '\0') {
        add_skip("verification", "full verification", "needs the append section's log");
        return;
    }
    progress("verification of the %" PRIu64 "-entry log (%d x 2)", opt.append_entries, opt.reps);
    for (int i = 0; i < opt.reps; i++) {
        struct ev_verify_options vo = {0};
        uint64_t t0 = now_ns(), c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = run_queue_ns();
        int r = ev_verify_dir(verify_dir, &vo, &rep);
        double t = seconds_since(t0);
        double c = (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
        stats_add(&pk_wait, 100.0 * (double)(run_queue_ns() - w0) / 1e9 / t);
        if (r < 0) {
            die("ev_verify_dir (public key) failed: %s: %s", ev_strerror(r), rep.detail);
        }
        entries = rep.entries;
        stats_add(&pk, (double)rep.entries / t);
        stats_add(&pk_cpu, (double)rep.entries / c);

        vo.verification_key = verify_v;
        t0 = now_ns();
        c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
        w0 = run_queue_ns();
        r = ev_verify_dir(verify_dir, &vo, &rep);
        t = seconds_since(t0);
        c = (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
        stats_add(&withv_wait, 100.0 * (double)(run_queue_ns() - w0) / 1e9 / t);
        if (r < 0 || !rep.tags_checked) {
            die("ev_verify_dir (with V) failed: %s: %s", ev_strerror(r), rep.detail);
        }
        stats_add(&withv, (double)rep.entries / t);
        stats_add(&withv_cpu, (double)rep.entries / c);
    }
    char name[96];
    char count[48];
    (void)fmt_num(count, sizeof(count), (double)entries, 0);
    (void)snprintf(name, sizeof(name), "%s entries, public key only", count);
    struct row *r = add_row("verification", name, "entries/s", &pk, 0);
    set_target(r, GOAL_AT_LEAST, 1000000, "≥ 1,000,000");
    set_limit(r, lim.verify_pk_ceiling, "hashing floor");
    r = add_row("verification", "  same, per CPU-second of the process", "entries/s", &pk_cpu, 0);
    set_limit(r, lim.verify_pk_ceiling, "hashing floor");
    r = add_row("verification", "  wall time spent waiting for a CPU (other tenants)", "%",
                &pk_wait, 1);
    (void)snprintf(name, sizeof(name), "%s entries, with verification key V", count);
    r = add_row("verification", name, "entries/s", &withv, 0);
    set_target(r, GOAL_AT_LEAST, 500000, "≥ 500,000");
    set_limit(r, lim.verify_v_ceiling, "hashing floor");
    r = add_row("verification", "  same, per CPU-second of the process", "entries/s", &withv_cpu,
                0);
    set_limit(r, lim.verify_v_ceiling, "hashing floor");
    r = add_row("verification", "  wall time spent waiting for a CPU (other tenants)", "%",
                &withv_wait, 1);
    add_note("verification read a %s-entry log (seals included) that was written just before: "
             "its segments were in the page cache.",
             count);
    remove_tree(verify_dir);
}

/* ---- compression of closed segments ------------------------------------------- */

#define COMPRESS_POOL 65536 /* distinct events, more than a zstd window of entries */
#define COMPRESS_SEGMENT (opt.quick ? 1ull << 20 : 16ull << 20)

static struct ev_event compress_events[COMPRESS_POOL];
static char *compress_data[COMPRESS_POOL];

static void random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[i] = hex[rng_next() & 15];
    }
    out[n] = '\0';
}

static void random_b64(char *out, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i++) {
        out[i] = b64[rng_next() & 63];
    }
    out[n] = '\0';
}

/*
 * Events as an AI-agent sandbox and a host's syslog produce them: half
 * code_execution (the fields of the typed event at level basic, with an
 * output digest), half syslog-like (sshd logins with key fingerprints,
 * sudo, cron, firewall drops), with the randomness real events carry
 * (sessions, digests, addresses, ports, pids, durations). A pool larger than
 * a zstd window of entries, so repeats cannot flatter the ratio.
 */
static void make_compress_events(void)
{
    static const char *const commands[][2] = {{"python3 -m pytest -q tests/test_", ".py"},
                                              {"npm test -- --runInBand src/", ".spec.ts"},
                                              {"go test ./pkg/store/... -run TestSegment", ""},
                                              {"cargo test --release shard_", ""},
                                              {"bash -lc 'make -j8 target-", "'"},
                                              {"python3 scripts/migrate.py --batch ", ""}};
    static const char *const langs[] = {"python", "javascript", "go", "rust", "bash", "python"};
    static const char *const users[] = {"deploy", "ci", "alice", "bob", "backup", "root"};
    for (unsigned i = 0; i < COMPRESS_POOL; i++) {
        char *data = NULL, a[96], b[96];
        unsigned r = (unsigned)rng_next();
        const char *type;
        int len;
        if (i % 2 == 0) {
            unsigned c = r % 6;
            char cmd[96], session[16], digest[65];
            (void)snprintf(cmd, sizeof(cmd), "%s%u%s", commands[c][0],
                           (unsigned)(rng_next() % 5000), commands[c][1]);
            random_hex(session, 8);
            random_hex(digest, 64);
            unsigned passed = (unsigned)(rng_next() % 400), failed = (unsigned)(rng_next() % 3);
            type = "code_execution";
            len = asprintf(&data,
                           "{\"actor\":{\"session\":\"s-%s\",\"uid\":1001,\"user\":\"ci\"},"
                           "\"command\":\"%s\",\"duration_ms\":%u,\"exit_code\":%u,"
                           "\"language\":\"%s\",\"outcome\":\"%s\",\"sandbox_id\":\"sbx-%u\","
                           "\"stdout\":{\"bytes\":%u,\"sha256\":\"%s\",\"text\":\"%u passed, %u "
                           "failed in %u.%02us\"}}",
                           session, cmd, (unsigned)(rng_next() % 90000), failed ? 1u : 0u, langs[c],
                           failed ? "failure" : "success", (unsigned)(rng_next() % 64),
                           (unsigned)(rng_next() % 20000), digest, passed, failed,
                           (unsigned)(rng_next() % 90), (unsigned)(rng_next() % 100));
        } else {
            unsigned k = r % 4, pid = 1000 + (unsigned)(rng_next() % 60000);
            const char *user = users[rng_next() % 6];
            type = "system_event";
            switch (k) {
            case 0:
                random_b64(a, 43);
                (void)snprintf(b, sizeof(b), "10.%u.%u.%u", (unsigned)(rng_next() % 256),
                               (unsigned)(rng_next() % 256), (unsigned)(rng_next() % 256));
                len = asprintf(&data,
                               "{\"app\":\"sshd\",\"facility\":\"auth\",\"host\":\"web-%02u\","
                               "\"message\":\"Accepted publickey for %s from %s port %u ssh2: "
                               "ED25519 SHA256:%s\",\"pid\":%u}",
                               (unsigned)(rng_next() % 40), user, b,
                               1024 + (unsigned)(rng_next() % 60000), a, pid);
                break;
            case 1:
                len = asprintf(&data,
                               "{\"app\":\"sudo\",\"facility\":\"authpriv\",\"host\":\"web-%02u\","
                               "\"message\":\"%s : TTY=pts/%u ; PWD=/home/%s ; USER=root ; "
                               "COMMAND=/usr/bin/systemctl restart %s\",\"pid\":%u}",
                               (unsigned)(rng_next() % 40), user, (unsigned)(rng_next() % 9), user,
                               rng_next() % 2 ? "nginx" : "evidentd", pid);
                break;
            case 2:
                len =
                    asprintf(&data,
                             "{\"app\":\"CRON\",\"facility\":\"cron\",\"host\":\"web-%02u\","
                             "\"message\":\"(%s) CMD (run-parts /etc/cron.hourly >/dev/null "
                             "2>&1 # job %u)\",\"pid\":%u}",
                             (unsigned)(rng_next() % 40), user, (unsigned)(rng_next() % 100), pid);
                break;
            default:
                len =
                    asprintf(&data,
                             "{\"app\":\"kernel\",\"facility\":\"kern\",\"host\":\"web-%02u\","
                             "\"message\":\"[UFW BLOCK] IN=eth0 OUT= SRC=%u.%u.%u.%u "
                             "DST=10.0.0.%u LEN=%u TTL=%u PROTO=TCP SPT=%u DPT=%u SYN\"}",
                             (unsigned)(rng_next() % 40), (unsigned)(rng_next() % 224),
                             (unsigned)(rng_next() % 256), (unsigned)(rng_next() % 256),
                             (unsigned)(rng_next() % 256), (unsigned)(rng_next() % 250),
                             40 + (unsigned)(rng_next() % 1400), 30 + (unsigned)(rng_next() % 200),
                             1024 + (unsigned)(rng_next() % 60000), rng_next() % 2 ? 22u : 3389u);
                break;
            }
        }
        if (len < 0) {
            die("out of memory");
        }
        compress_data[i] = data;
        compress_events[i] = (struct ev_event){
            .type = type, .severity = EV_SEV_INFO, .source_json = NULL, .data_json = data};
    }
}

static struct ev_log *open_compress_log(const char *dir, bool compress, int level)
{
    struct ev_open_options oo = {.sync = EV_SYNC_NEVER,
                                 .segment_bytes = COMPRESS_SEGMENT,
                                 .compression = compress ? EV_COMPRESSION_ZSTD : 0,
                                 .compression_level = level};
    struct ev_log *log = NULL;
    check(ev_log_open(dir, &oo, &log), "ev_log_open");
    return log;
}

/* Bytes of the segment files: .seg (closed ones only when closed_only) and .seg.zst. */
static void segment_bytes(const char *dir, bool closed_only, uint64_t *ret_plain, uint64_t *ret_zst)
{
    char segdir[PATH_MAX + 16], path[PATH_MAX + 512], last[256] = "";
    struct dirent *de;
    struct stat st;
    (void)snprintf(segdir, sizeof(segdir), "%s/segments", dir);
    DIR *d = opendir(segdir);
    *ret_plain = *ret_zst = 0;
    if (d == NULL) {
        die("cannot open '%s': %s", segdir, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) == 24 && strcmp(de->d_name, last) > 0) {
            (void)snprintf(last, sizeof(last), "%s", de->d_name);
        }
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        (void)snprintf(path, sizeof(path), "%s/%s", segdir, de->d_name);
        if (de->d_name[0] == '.' || stat(path, &st) < 0) {
            continue;
        }
        if (strlen(de->d_name) == 28) {
            *ret_zst += (uint64_t)st.st_size;
        } else if (strlen(de->d_name) == 24 && !(closed_only && strcmp(de->d_name, last) == 0)) {
            *ret_plain += (uint64_t)st.st_size;
        }
    }
    (void)closedir(d);
}

static double verify_rate(const char *dir, const uint8_t *v, uint64_t *ret_entries)
{
    struct ev_verify_options vo = {.verification_key = v};
    struct ev_verify_report rep;
    uint64_t t0 = now_ns();
    int r = ev_verify_dir(dir, &vo, &rep);
    double t = seconds_since(t0);
    if (r < 0) {
        die("ev_verify_dir failed: %s: %s", ev_strerror(r), rep.detail);
    }
    *ret_entries = rep.entries;
    return (double)rep.entries / t;
}

/*
 * Issue 5: the compression ratio on realistic events, how fast closed
 * segments compress, verification over compressed and plain segments, and
 * what background compression costs appends (target: at most 20 %).
 */
static void bench_compress(void)
{
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    char dir[PATH_MAX], copy[PATH_MAX];
    uint64_t n = opt.append_entries, cursor = 0;
    struct row *r;

    make_compress_events();
    sub_path(dir, sizeof(dir), "compress-log");
    sub_path(copy, sizeof(copy), "compress-plain");

    /* Append throughput, sync never, batches of 256, compression off and on alternating. */
    struct stats off = {0}, on = {0}, ratio = {0}, lag = {0};
    progress("append with background compression off/on, %" PRIu64 " entries (%d x 2)", n,
             opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        double t_off = 0, t_on = 0;
        for (int mode = 0; mode < 2; mode++) {
            create_log(dir, v);
            struct ev_log *log = open_compress_log(dir, mode == 1, 3);
            cursor = 0;
            double t = 0;
            uint64_t t0 = now_ns();
            for (uint64_t done = 0; done < n; done += APPEND_BATCH) {
                size_t k = n - done < APPEND_BATCH ? (size_t)(n - done) : APPEND_BATCH;
                size_t at = (size_t)(cursor++ % (COMPRESS_POOL / APPEND_BATCH)) * APPEND_BATCH;
                check(ev_log_append_batch(log, &compress_events[at], k, NULL, NULL),
                      "ev_log_append_batch");
            }
            t = seconds_since(t0);
            if (mode == 1) {
                uint64_t w0 = now_ns();
                check(evi_log_compress_wait(log), "background compression");
                stats_add(&lag, seconds_since(w0));
                t_on = t;
            } else {
                t_off = t;
            }
            check(ev_log_close(log), "ev_log_close");
        }
        stats_add(&off, (double)n / t_off);
        stats_add(&on, (double)n / t_on);
        stats_add(&ratio, 100.0 * t_off / t_on);
    }
    r = add_row("compression", "append, compression off (sync never, batches of 256)", "entries/s",
                &off, 0);
    r = add_row("compression", "append, background zstd level 3 on", "entries/s", &on, 0);
    r = add_row("compression", "  on / off (per repetition)", "%", &ratio, 1);
    set_target(r, GOAL_AT_LEAST, 80, "≥ 80 %");
    r = add_row("compression", "  compressor still busy after the last append", "s", &lag, 2);

    /* The last run's log (compressed) and a plain copy of the same entries. */
    uint8_t v_copy[EV_VERIFICATION_KEY_BYTES], v_dir[EV_VERIFICATION_KEY_BYTES];
    create_log(copy, v_copy);
    struct ev_log *log = open_compress_log(copy, false, 3);
    cursor = 0;
    for (uint64_t done = 0; done < n; done += APPEND_BATCH) {
        size_t k = n - done < APPEND_BATCH ? (size_t)(n - done) : APPEND_BATCH;
        size_t at = (size_t)(cursor++ % (COMPRESS_POOL / APPEND_BATCH)) * APPEND_BATCH;
        check(ev_log_append_batch(log, &compress_events[at], k, NULL, NULL), "ev_log_append_batch");
    }
    check(ev_log_close(log), "ev_log_close");
    uint64_t plain_bytes, zst_bytes, closed_plain;
    segment_bytes(copy, true, &closed_plain, &zst_bytes);
    struct entry_sum es = sum_entries(copy);
    (void)add_value("compression", "mean entry size of these events", "bytes",
                    (double)es.bytes / (double)es.entries, 1);

    /* Ratio and speed of compressing the closed segments, by level (one thread). */
    static const int levels[] = {1, 3, 9, 19};
    for (size_t li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
        char level_dir[PATH_MAX + 16], name[96];
        (void)snprintf(level_dir, sizeof(level_dir), "%s-l%d", copy, levels[li]);
        remove_tree(level_dir);
        /* The same entries written plain, then compressed by a writer opened at this level. */
        struct stats mbs = {0};
        double ratio_v = 0;
        int reps = levels[li] >= 9 ? 1 : opt.reps;
        for (int rep = 0; rep < reps; rep++) {
            create_log(level_dir, v);
            log = open_compress_log(level_dir, false, 3);
            cursor = 0;
            for (uint64_t done = 0; done < n; done += APPEND_BATCH) {
                size_t k = n - done < APPEND_BATCH ? (size_t)(n - done) : APPEND_BATCH;
                size_t at = (size_t)(cursor++ % (COMPRESS_POOL / APPEND_BATCH)) * APPEND_BATCH;
                check(ev_log_append_batch(log, &compress_events[at], k, NULL, NULL),
                      "ev_log_append_batch");
            }
            check(ev_log_close(log), "ev_log_close");
            uint64_t before, z0;
            segment_bytes(level_dir, true, &before, &z0);
            uint64_t t0 = now_ns();
            log = open_compress_log(level_dir, true, levels[li]);
            check(evi_log_compress_wait(log), "compression");
            double t = seconds_since(t0);
            check(ev_log_close(log), "ev_log_close");
            uint64_t after_plain, after_zst;
            segment_bytes(level_dir, true, &after_plain, &after_zst);
            if (after_zst == 0) {
                die("no segment was closed: use more --append-entries");
            }
            stats_add(&mbs, (double)before / t / 1e6);
            ratio_v = (double)before / (double)after_zst;
        }
        (void)snprintf(name, sizeof(name), "zstd level %d: compression ratio (closed segments)",
                       levels[li]);
        r = add_value("compression", name, "x", ratio_v, 2);
        (void)snprintf(name, sizeof(name), "  level %d: compression speed, one thread", levels[li]);
        r = add_row("compression", name, "MB/s", &mbs, 0); /* .seg bytes in per second */
        if (levels[li] == 3) {
            /* Keep the level-3 log for the verification comparison. */
            memcpy(v_dir, v, sizeof(v_dir));
            remove_tree(dir);
            if (rename(level_dir, dir) < 0) {
                die("cannot rename '%s': %s", level_dir, strerror(errno));
            }
        } else {
            remove_tree(level_dir);
        }
    }

    /* Verification with V: all closed segments compressed vs the plain copy. */
    struct stats vz = {0}, vp = {0}, mz = {0}, mp = {0};
    uint64_t entries = 0;
    segment_bytes(copy, false, &plain_bytes, &zst_bytes);
    progress("verification over compressed and plain segments (%d x 2)", opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        double rz = verify_rate(dir, v_dir, &entries);
        double rp = verify_rate(copy, v_copy, &entries);
        stats_add(&vz, rz);
        stats_add(&vp, rp);
        /* MB/s of segment bytes as written (decompressed): the same for both. */
        stats_add(&mz, rz * (double)plain_bytes / (double)entries / 1e6);
        stats_add(&mp, rp * (double)plain_bytes / (double)entries / 1e6);
    }
    char count[48], name[96];
    (void)fmt_num(count, sizeof(count), (double)entries, 0);
    (void)snprintf(name, sizeof(name), "verify with V, %s entries, plain segments", count);
    r = add_row("compression", name, "entries/s", &vp, 0);
    set_limit(r, lim.verify_v_ceiling, "hashing floor");
    r = add_row("compression", "  same, segment bytes", "MB/s", &mp, 0);
    (void)snprintf(name, sizeof(name), "verify with V, same entries, closed segments zstd-3");
    r = add_row("compression", name, "entries/s", &vz, 0);
    set_limit(r, lim.verify_v_ceiling, "hashing floor");
    r = add_row("compression", "  same, segment bytes (decompressed)", "MB/s", &mz, 0);
    add_note("compression: %" PRIu64 " entries, half code_execution and half syslog-like events "
             "from a pool of %d distinct ones; %llu MiB segments; the last (open) segment is never "
             "compressed; ratios are over the closed segments only.",
             n, COMPRESS_POOL, (unsigned long long)(COMPRESS_SEGMENT >> 20));
    remove_tree(dir);
    remove_tree(copy);
    for (unsigned i = 0; i < COMPRESS_POOL; i++) {
        free(compress_data[i]);
    }
}

/* ---- retention ---------------------------------------------------------------------- */

/* Appends n of the compression pool's events (realistic sizes) to the log in dir. */
static void append_pool(const char *dir, bool compress, uint64_t n)
{
    struct ev_log *log = open_compress_log(dir, compress, 3);
    uint64_t cursor = 0;
    for (uint64_t done = 0; done < n; done += APPEND_BATCH) {
        size_t k = n - done < APPEND_BATCH ? (size_t)(n - done) : APPEND_BATCH;
        size_t at = (size_t)(cursor++ % (COMPRESS_POOL / APPEND_BATCH)) * APPEND_BATCH;
        check(ev_log_append_batch(log, &compress_events[at], k, NULL, NULL), "ev_log_append_batch");
    }
    if (compress) {
        check(evi_log_compress_wait(log), "background compression");
    }
    check(ev_log_close(log), "ev_log_close");
}

/* Prunes every closed segment of dir; returns seconds, fills the report. */
static double prune_all(const char *dir, struct ev_prune_report *ret_report)
{
    struct ev_retention policy = {.max_bytes = 1};
    struct ev_log *log = open_compress_log(dir, false, 3);
    uint64_t t0 = now_ns();
    check(ev_log_prune(log, &policy, 0, ret_report), "ev_log_prune");
    double t = seconds_since(t0);
    check(ev_log_close(log), "ev_log_close");
    if (ret_report->count == 0) {
        die("nothing was pruned: use more --append-entries");
    }
    return t;
}

/*
 * Issue 5: retention. How fast a pruning runs (it reads every record of the
 * segments it removes, hashes each entry twice, once for its leaf and once for
 * the segment's digest, and writes the pruned forms), what is left of the
 * segments on disk, plain and compressed, and how fast a pruned log verifies.
 */
static void bench_retention(void)
{
    uint8_t v[EV_VERIFICATION_KEY_BYTES], v_whole[EV_VERIFICATION_KEY_BYTES];
    char dir[PATH_MAX], whole[PATH_MAX];
    uint64_t n = opt.append_entries, entries = 0;
    struct stats rate = {0}, mbs = {0}, left = {0}, per_entry = {0}, left_z = {0};
    struct stats v_pruned = {0}, v_full = {0};
    struct row *r;

    make_compress_events();
    sub_path(dir, sizeof(dir), "retention-log");
    sub_path(whole, sizeof(whole), "retention-whole");
    progress("pruning every closed segment of %" PRIu64 " entries (%d x)", n, opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        struct ev_prune_report pr;
        uint64_t closed, zst;
        create_log(dir, v);
        append_pool(dir, false, n);
        segment_bytes(dir, true, &closed, &zst);
        double t = prune_all(dir, &pr);
        uint64_t before = 0, after = 0;
        for (size_t k = 0; k < pr.count; k++) {
            before += pr.segments[k].bytes;
            after += pr.segments[k].pruned_bytes;
        }
        stats_add(&rate, (double)pr.entries / t);
        stats_add(&mbs, (double)before / t / 1e6);
        stats_add(&left, 100.0 * (double)after / (double)before);
        stats_add(&per_entry, (double)after / (double)pr.entries);
        ev_prune_report_free(&pr);
    }
    r = add_row("retention", "prune (read, hash twice, write the pruned form)", "entries/s", &rate,
                0);
    set_limit(r, lim.sha300_evp / 2, "2 SHA-256 an entry");
    r = add_row("retention", "  same, segment bytes pruned", "MB/s", &mbs, 0);
    r = add_row("retention", "  pruned form / segment (plain .seg)", "%", &left, 1);
    r = add_row("retention", "  pruned form per entry", "bytes", &per_entry, 1);

    /* The same entries compressed first: what a pruning saves on a zstd log. */
    {
        struct ev_prune_report pr;
        create_log(dir, v);
        append_pool(dir, true, n);
        (void)prune_all(dir, &pr);
        uint64_t before = 0, after = 0;
        for (size_t k = 0; k < pr.count; k++) {
            before += pr.segments[k].bytes;
            after += pr.segments[k].pruned_bytes;
        }
        stats_add(&left_z, 100.0 * (double)after / (double)before);
        ev_prune_report_free(&pr);
    }
    r = add_row("retention", "  pruned form / segment (zstd-3 .seg.zst)", "%", &left_z, 1);

    /* Verification with V: the pruned log against a whole one of the same entries. */
    create_log(dir, v);
    append_pool(dir, false, n);
    struct ev_prune_report pr;
    (void)prune_all(dir, &pr);
    ev_prune_report_free(&pr);
    create_log(whole, v_whole);
    append_pool(whole, false, n);
    progress("verification of a pruned and a whole log (%d x 2)", opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        stats_add(&v_pruned, verify_rate(dir, v, &entries));
        stats_add(&v_full, verify_rate(whole, v_whole, &entries));
    }
    r = add_row("retention", "verify with V, whole log", "entries/s", &v_full, 0);
    set_limit(r, lim.verify_v_ceiling, "hashing floor");
    r = add_row("retention", "verify with V, same log with closed segments pruned", "entries/s",
                &v_pruned, 0);
    add_note("retention: %" PRIu64 " entries of the compression pool, %llu MiB segments; every "
             "closed segment pruned (max_bytes 1); the last segment stays whole.",
             n, (unsigned long long)(COMPRESS_SEGMENT >> 20));
    remove_tree(dir);
    remove_tree(whole);
    for (unsigned i = 0; i < COMPRESS_POOL; i++) {
        free(compress_data[i]);
        compress_data[i] = NULL;
    }
}

/* ---- encryption at rest ---------------------------------------------------------- */

/*
 * Append throughput with entries encrypted (FORMAT.md §5.1) against plain,
 * sync never, batches of 256, the same events; the three forms alternate in
 * each repetition so that they see the same machine.
 */
static void bench_encrypt(void)
{
    static const char *const names[] = {"plain", "aes-256-gcm", "chacha20-poly1305"};
    static const int algs[] = {0, EV_DATA_AES_256_GCM, EV_DATA_CHACHA20_POLY1305};
    struct stats rate[3], ratio[3], size[3];
    struct ev_datakeys *keys[3] = {NULL};
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    char dir[PATH_MAX], keyfile[PATH_MAX + 16];
    uint64_t n = opt.append_entries;

    memset(rate, 0, sizeof(rate));
    memset(ratio, 0, sizeof(ratio));
    memset(size, 0, sizeof(size));
    sub_path(dir, sizeof(dir), "encrypt-log");
    for (int a = 1; a < 3; a++) {
        (void)snprintf(keyfile, sizeof(keyfile), "%s.keys%d", dir, a);
        (void)unlink(keyfile);
        check(ev_datakey_new(keyfile, algs[a], NULL), "ev_datakey_new");
        check(ev_datakeys_load(keyfile, &keys[a]), "ev_datakeys_load");
        (void)unlink(keyfile);
    }
    progress("batch append, sync never, plain / AES-256-GCM / ChaCha20-Poly1305, %" PRIu64
             " entries (%d x 3)",
             n, opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        double t[3];
        for (int a = 0; a < 3; a++) {
            uint64_t cursor = 0;
            create_log(dir, v);
            struct ev_open_options oo = {.sync = EV_SYNC_NEVER, .data_keys = keys[a]};
            struct ev_log *log = NULL;
            check(ev_log_open(dir, &oo, &log), "ev_log_open");
            t[a] = append_entries(log, events, n, APPEND_BATCH, &cursor, NULL);
            check(ev_log_close(log), "ev_log_close");
            stats_add(&rate[a], (double)n / t[a]);
            struct entry_sum es = sum_entries(dir);
            stats_add(&size[a], (double)es.bytes / (double)es.entries);
        }
        for (int a = 1; a < 3; a++) {
            stats_add(&ratio[a], 100.0 * t[0] / t[a]);
        }
    }
    for (int a = 0; a < 3; a++) {
        char name[96];
        (void)snprintf(name, sizeof(name), "append, %s (sync never, batches of 256)", names[a]);
        struct row *r = add_row("encryption at rest", name, "entries/s", &rate[a], 0);
        if (a > 0) {
            (void)snprintf(name, sizeof(name), "  %s / plain (per repetition)", names[a]);
            r = add_row("encryption at rest", name, "%", &ratio[a], 1);
        }
        (void)snprintf(name, sizeof(name), "  mean stored entry, %s", names[a]);
        r = add_row("encryption at rest", name, "bytes", &size[a], 1);
        (void)r;
        ev_datakeys_free(keys[a]);
    }
    add_note("encryption at rest: the same %" PRIu64 " events each way, a fresh log per run; the "
             "envelope stores source and data as base64 of the ciphertext and a 16-byte tag.",
             n);
    remove_tree(dir);
}

/* ---- sync always, group commit -------------------------------------------------- */

struct worker {
    struct ev_log *log;
    size_t batch;
    atomic_bool *stop;
    pthread_barrier_t *start;
    uint64_t entries;
    unsigned seed;
    int err;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t cursor = w->seed;
    (void)pthread_barrier_wait(w->start);
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        size_t at = (size_t)(cursor++ % (EVENT_COUNT / w->batch)) * w->batch;
        int r = ev_log_append_batch(w->log, &events[at], w->batch, NULL, NULL);
        if (r < 0) {
            w->err = r;
            break;
        }
        w->entries += w->batch;
    }
    return NULL;
}

/* Runs threads appending batches for opt.group_seconds; returns entries/s. */
static double run_group(struct ev_log *log, int threads, size_t batch, double *ret_per_sync)
{
    struct worker w[GROUP_THREADS];
    pthread_t tid[GROUP_THREADS];
    pthread_barrier_t start;
    atomic_bool stop;
    uint64_t total = 0;

    atomic_init(&stop, false);
    (void)pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){
            .log = log, .batch = batch, .stop = &stop, .start = &start, .seed = (unsigned)i * 7};
        if (pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0) {
            die("cannot start a thread");
        }
    }
    unsigned long s0 = atomic_load(&fdatasync_calls);
    (void)pthread_barrier_wait(&start);
    uint64_t t0 = now_ns();
    struct timespec d = {.tv_sec = (time_t)opt.group_seconds,
                         .tv_nsec =
                             (long)((opt.group_seconds - (double)(time_t)opt.group_seconds) * 1e9)};
    while (nanosleep(&d, &d) < 0 && errno == EINTR) {
    }
    atomic_store(&stop, true);
    for (int i = 0; i < threads; i++) {
        (void)pthread_join(tid[i], NULL);
        if (w[i].err < 0) {
            check(w[i].err, "ev_log_append_batch (sync always)");
        }
        total += w[i].entries;
    }
    double t = seconds_since(t0);
    unsigned long syncs = atomic_load(&fdatasync_calls) - s0;
    (void)pthread_barrier_destroy(&start);
    *ret_per_sync = syncs > 0 ? (double)total / (double)syncs : 0;
    return (double)total / t;
}

/*
 * The I/O limit of a group commit that carries records_per_sync records:
 * append exactly that many record-sized writes' worth of bytes, fdatasync,
 * repeat, on a fresh file, for about seconds. Returns records per second.
 */
static double ideal_commit_rate(size_t records_per_sync, double seconds)
{
    char path[PATH_MAX];
    size_t bytes = records_per_sync * lim.record_bytes;
    uint8_t *buf = malloc(bytes);
    uint64_t commits = 0;
    off_t off = 0;

    if (buf == NULL) {
        die("out of memory");
    }
    memset(buf, 'z', bytes);
    sub_path(path, sizeof(path), "commit-probe");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        die("cannot create '%s': %s", path, strerror(errno));
    }
    uint64_t t0 = now_ns(), budget = (uint64_t)(seconds * 1e9);
    while (now_ns() - t0 < budget) {
        if (pwrite(fd, buf, bytes, off) != (ssize_t)bytes || fdatasync(fd) < 0) {
            die("write/fdatasync of '%s': %s", path, strerror(errno));
        }
        off += (off_t)bytes;
        commits++;
    }
    double rate = (double)(commits * records_per_sync) / seconds_since(t0);
    (void)close(fd);
    (void)unlink(path);
    free(buf);
    return rate;
}

/* The CPU limit with threads appending: hashing is serial (under the lock), the rest parallel.
 */
static double cpu_floor_parallel(void)
{
    if (lim.writer_ceiling <= 0) {
        return 0;
    }
    double hash_us = 1e6 / lim.writer_ceiling;
    double all_us = hash_us + lim.body_make_us + lim.assemble_us;
    double ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
    double serial = 1e6 / hash_us, parallel = ncpu * 1e6 / all_us;
    return serial < parallel ? serial : parallel;
}

static void group_rows(const char *name, size_t threads, size_t batch, const struct stats *rate,
                       const struct stats *factor, const struct stats *ideal)
{
    char label[96], lname[72];
    double io = stats_median(ideal), cpu = cpu_floor_parallel();

    struct row *r = add_row("append, sync always", name, "entries/s", rate, 0);
    if (batch > 1) {
        set_target(r, GOAL_AT_LEAST, 200000, "≥ 200,000");
    }
    if (io <= 0 && cpu <= 0) {
        /* --only without limits: no ratio */
    } else if (io < cpu || cpu <= 0) {
        (void)snprintf(lname, sizeof(lname), "I/O: %zu records per fdatasync", threads * batch);
        set_limit(r, io, lname);
    } else {
        set_limit(r, cpu, "CPU: hashing + JSON floor, all cores");
    }
    (void)snprintf(label, sizeof(label), "  entries per fdatasync (group-commit factor)");
    r = add_row("append, sync always", label, "entries", factor, 1);
    (void)snprintf(lname, sizeof(lname), "%zu: every thread's batch in one sync", threads * batch);
    set_limit(r, (double)(threads * batch), lname);
    (void)snprintf(label, sizeof(label), "  machine: %zu records appended per fdatasync",
                   threads * batch);
    r = add_row("append, sync always", label, "entries/s", ideal, 0);
}

static void bench_group(void)
{
    static const size_t batches[] = {1, 16, 64};
    char dir[PATH_MAX], name[96];
    uint8_t v[EV_VERIFICATION_KEY_BYTES];

    sub_path(dir, sizeof(dir), "group-log");
    for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
        struct stats rate = {0}, factor = {0}, ideal = {0};
        create_log(dir, v);
        struct ev_log *log = open_log(dir, EV_SYNC_ALWAYS);
        progress("sync always, %d threads, batches of %zu (%d x %.1f s)", GROUP_THREADS, batches[b],
                 opt.reps, opt.group_seconds);
        for (int rep = 0; rep < opt.reps; rep++) {
            double per_sync;
            stats_add(&rate, run_group(log, GROUP_THREADS, batches[b], &per_sync));
            stats_add(&factor, per_sync);
            stats_add(&ideal, ideal_commit_rate(GROUP_THREADS * batches[b], opt.group_seconds / 2));
        }
        check(ev_log_close(log), "ev_log_close");
        remove_tree(dir);
        (void)snprintf(name, sizeof(name), "%d threads, batches of %zu", GROUP_THREADS, batches[b]);
        group_rows(name, GROUP_THREADS, batches[b], &rate, &factor, &ideal);
    }

    struct stats rate = {0}, factor = {0}, ideal = {0};
    create_log(dir, v);
    struct ev_log *log = open_log(dir, EV_SYNC_ALWAYS);
    progress("sync always, 1 thread, single appends (%d x %.1f s)", opt.reps, opt.group_seconds);
    for (int rep = 0; rep < opt.reps; rep++) {
        double per_sync;
        stats_add(&rate, run_group(log, 1, 1, &per_sync));
        stats_add(&factor, per_sync);
        stats_add(&ideal, ideal_commit_rate(1, opt.group_seconds / 2));
    }
    check(ev_log_close(log), "ev_log_close");
    remove_tree(dir);
    group_rows("1 thread, single appends", 1, 1, &rate, &factor, &ideal);
    add_note("sync always: each I/O limit (the same records per fdatasync, written by this "
             "program) was measured right after each library run; a virtual disk whose "
             "fdatasync latency changes from phase to phase still moves both. The group-commit "
             "factor (entries per fdatasync) does not depend on the disk.");
}

/* ---- large log: build, memory, storage, proofs ------------------------------------ */

struct mem_reader {
    const uint8_t *base;
    uint64_t hashes;
};

static int mem_read_hash(void *ctx, uint64_t stored_index, uint8_t ret[EV_HASH_BYTES])
{
    const struct mem_reader *m = ctx;
    if (stored_index >= m->hashes) {
        return -EIO;
    }
    memcpy(ret, m->base + stored_index * EV_HASH_BYTES, EV_HASH_BYTES);
    return 0;
}

struct pread_reader {
    int fd;
    uint64_t reads;
};

static int pread_read_hash(void *ctx, uint64_t stored_index, uint8_t ret[EV_HASH_BYTES])
{
    struct pread_reader *p = ctx;
    p->reads++;
    return pread(p->fd, ret, EV_HASH_BYTES, (off_t)(stored_index * EV_HASH_BYTES)) == EV_HASH_BYTES
               ? 0
               : -EIO;
}

enum proof_kind { PROOF_INCLUSION, PROOF_CONSISTENCY };
enum proof_path { VIA_LOG, VIA_PREAD, VIA_MEMORY };

/* Median and p99 (µs) of PROOF_SAMPLES proofs of one kind through one path. */
static void time_proofs(enum proof_kind kind, enum proof_path path, struct ev_log *log,
                        struct pread_reader *pr, struct mem_reader *mr, uint64_t n, uint64_t seed,
                        double *ret_median, double *ret_p99)
{
    static uint64_t lat[PROOF_SAMPLES];
    uint8_t proof[EV_MAX_PROOF][EV_HASH_BYTES];
    size_t len;
    int r = 0;

    rng_state = seed;
    for (int i = 0; i < PROOF_SAMPLES; i++) {
        uint64_t x = rng_next() % n;
        uint64_t t0 = now_ns();
        if (kind == PROOF_INCLUSION) {
            switch (path) {
            case VIA_LOG: r = ev_log_prove_inclusion(log, x, n, proof, &len); break;
            case VIA_PREAD: r = evi_prove_inclusion(x, n, pread_read_hash, pr, proof, &len); break;
            case VIA_MEMORY: r = evi_prove_inclusion(x, n, mem_read_hash, mr, proof, &len); break;
            }
        } else {
            uint64_t old = x + 1; /* 1..n */
            switch (path) {
            case VIA_LOG: r = ev_log_prove_consistency(log, old, n, proof, &len); break;
            case VIA_PREAD:
                r = evi_prove_consistency(old, n, pread_read_hash, pr, proof, &len);
                break;
            case VIA_MEMORY:
                r = evi_prove_consistency(old, n, mem_read_hash, mr, proof, &len);
                break;
            }
        }
        lat[i] = now_ns() - t0;
        check(r, "proof");
    }
    qsort(lat, PROOF_SAMPLES, sizeof(uint64_t), cmp_u64);
    *ret_median = (double)percentile(lat, PROOF_SAMPLES, 50) / 1e3;
    *ret_p99 = (double)percentile(lat, PROOF_SAMPLES, 99) / 1e3;
}

/* Checks a few proofs against the log's root, so that the timed ones are real proofs. */
static void check_proofs(struct ev_log *log, uint64_t n)
{
    uint8_t root[EV_HASH_BYTES], old_root[EV_HASH_BYTES], proof[EV_MAX_PROOF][EV_HASH_BYTES];
    size_t len;
    check(ev_log_root(log, n, root), "ev_log_root");
    for (int i = 0; i < 20; i++) {
        uint64_t x = rng_next() % n;
        struct ev_entry *e = NULL;
        check(ev_log_prove_inclusion(log, x, n, proof, &len), "ev_log_prove_inclusion");
        check(ev_log_entry(log, x, &e), "ev_log_entry");
        check(
            ev_merkle_verify_inclusion(x, n, e->leaf_hash, (const uint8_t(*)[32])proof, len, root),
            "ev_merkle_verify_inclusion");
        ev_entry_free(e);
        check(ev_log_root(log, x + 1, old_root), "ev_log_root");
        check(ev_log_prove_consistency(log, x + 1, n, proof, &len), "ev_log_prove_consistency");
        check(ev_merkle_verify_consistency(x + 1, n, old_root, root, (const uint8_t(*)[32])proof,
                                           len),
              "ev_merkle_verify_consistency");
    }
}

static void bench_large_log(void)
{
    char dir[PATH_MAX], path[PATH_MAX], name[96];
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    uint64_t n = opt.proof_entries;

    sub_path(dir, sizeof(dir), "proof-log");
    remove_tree(dir);
    uint64_t avail = free_bytes(bench_dir);
    uint64_t need = n * BYTES_PER_ENTRY_GUESS + n * BYTES_PER_ENTRY_GUESS / 10 + (1ull << 30);
    if (avail < need) {
        uint64_t fit =
            avail > (1ull << 30) ? (avail - (1ull << 30)) / (BYTES_PER_ENTRY_GUESS * 11 / 10) : 0;
        fit = fit / 100000 * 100000;
        if (fit < 100000) {
            add_skip("large log", "proof log", "not enough free disk");
            return;
        }
        add_note("the bench directory has %.1f GB free: the proof log was cut from %" PRIu64
                 " to %" PRIu64 " entries",
                 (double)avail / 1e9, n, fit);
        n = fit;
    }

    /* Writer memory: reset the high-water mark, then sample as the log grows. */
    bool hwm_reset = reset_hwm();
    uint64_t rss0, hwm0;
    memory_kib(&rss0, &hwm0);
    create_log(dir, v);
    struct ev_log *log = open_log(dir, EV_SYNC_NEVER);
    uint64_t rss_open, hwm_open;
    memory_kib(&rss_open, &hwm_open);
    static const uint64_t marks[] = {100000, 1000000, 10000000, 100000000};
    uint64_t rss_at[4] = {0}, hwm_at[4] = {0}, done = 0, cursor = 0;
    double build_s = 0;
    progress("building the proof log: %" PRIu64 " entries, sync never, batches of %d", n,
             APPEND_BATCH);
    for (int m = 0; m < 4 && done < n; m++) {
        uint64_t upto = marks[m] < n ? marks[m] : n;
        build_s += append_entries(log, events, upto - done, APPEND_BATCH, &cursor, NULL);
        done = upto;
        memory_kib(&rss_at[m], &hwm_at[m]);
        progress("%" PRIu64 " entries, VmRSS %" PRIu64 " KiB, VmHWM %" PRIu64 " KiB", done,
                 rss_at[m], hwm_at[m]);
    }
    if (done < n) {
        build_s += append_entries(log, events, n - done, APPEND_BATCH, &cursor, NULL);
    }
    uint64_t rss_end, hwm_end;
    memory_kib(&rss_end, &hwm_end);
    check(ev_log_close(log), "ev_log_close");

    struct row *r;
    (void)snprintf(name, sizeof(name),
                   "build of the %" PRIu64 "-entry log, 1 thread, batches of "
                   "256",
                   n);
    r = add_value("large log", name, "entries/s", (double)n / build_s, 0);
    set_limit(r, lim.writer_ceiling, "hashing floor");
    r = add_value("large log", "writer VmRSS right after open", "KiB", (double)rss_open, 0);
    for (int m = 0; m < 4; m++) {
        if (rss_at[m] == 0 || marks[m] > n) {
            continue;
        }
        (void)snprintf(name, sizeof(name), "writer VmRSS after %s entries",
                       marks[m] == 100000     ? "100k"
                       : marks[m] == 1000000  ? "1M"
                       : marks[m] == 10000000 ? "10M"
                                              : "100M");
        r = add_value("large log", name, "KiB", (double)rss_at[m], 0);
    }
    r = add_value("large log", "writer VmRSS growth, 100k entries -> end", "KiB",
                  rss_at[0] != 0 ? (double)rss_end - (double)rss_at[0] : 0, 0);
    set_target(r, GOAL_AT_MOST, 1024, "independent of size (< 1 MiB)");
    if (rss_at[0] == 0) {
        r->skipped = true;
        (void)snprintf(r->note, sizeof(r->note), "log smaller than 100k entries");
    }
    r = add_value("large log", "writer VmHWM during the build", "KiB", (double)hwm_end, 0);
    if (!hwm_reset) {
        (void)snprintf(r->note, sizeof(r->note),
                       "VmHWM could not be reset: includes earlier "
                       "sections");
    }

    /* Storage overhead. */
    progress("storage: reading every entry back");
    struct entry_sum es = sum_entries(dir);
    struct dir_usage du = dir_usage(dir);
    double overhead = ((double)du.apparent - (double)es.bytes) / (double)es.entries;
    double overhead_alloc = ((double)du.allocated - (double)es.bytes) / (double)es.entries;
    double format_floor =
        44.0 + 8.0 + (double)evi_stored_hash_count(es.entries) * 32.0 / (double)es.entries;
    (void)snprintf(name, sizeof(name),
                   "storage overhead per entry (%" PRIu64 " entries, mean "
                   "%.1f B)",
                   es.entries, (double)es.bytes / (double)es.entries);
    r = add_value("large log", name, "bytes", overhead, 2);
    set_target(r, GOAL_AT_MOST, 120, "< 120");
    set_limit(r, format_floor, "format floor: record 44 + index 8 + hashes");
    r = add_value("large log", "  same, counting allocated blocks (du)", "bytes", overhead_alloc,
                  2);
    set_limit(r, format_floor, "format floor");

    /* Proofs, from a read-only handle, with the derived files in the page cache. */
    sub_path(path, sizeof(path), "proof-log/hashes");
    warm_file(path);
    sub_path(path, sizeof(path), "proof-log/index");
    warm_file(path);
    sub_path(path, sizeof(path), "proof-log/hashes");
    int hfd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (hfd < 0 || fstat(hfd, &st) < 0) {
        die("cannot open '%s': %s", path, strerror(errno));
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, hfd, 0);
    if (map == MAP_FAILED) {
        die("cannot map '%s': %s", path, strerror(errno));
    }
    struct mem_reader mr = {.base = map, .hashes = (uint64_t)st.st_size / EV_HASH_BYTES};
    struct pread_reader pr = {.fd = hfd};
    struct ev_open_options oo = {.flags = EV_OPEN_READONLY};
    check(ev_log_open(dir, &oo, &log), "ev_log_open (read-only)");
    uint64_t size = ev_log_size(log);
    check_proofs(log, size);

    progress("proofs over %" PRIu64 " entries (%d x %d each)", size, opt.reps, PROOF_SAMPLES);
    static const char *const kind_name[] = {"inclusion", "consistency"};
    for (int kind = 0; kind < 2; kind++) {
        struct stats s_log = {0}, p_log = {0}, s_pread = {0}, s_mem = {0};
        double reads = 0;
        for (int rep = 0; rep < opt.reps; rep++) {
            double med, p99;
            uint64_t seed = 0x1234567u + (uint64_t)rep * 7919u;
            time_proofs((enum proof_kind)kind, VIA_LOG, log, &pr, &mr, size, seed, &med, &p99);
            stats_add(&s_log, med);
            stats_add(&p_log, p99);
            pr.reads = 0;
            time_proofs((enum proof_kind)kind, VIA_PREAD, log, &pr, &mr, size, seed, &med, &p99);
            stats_add(&s_pread, med);
            reads = (double)pr.reads / PROOF_SAMPLES;
            time_proofs((enum proof_kind)kind, VIA_MEMORY, log, &pr, &mr, size, seed, &med, &p99);
            stats_add(&s_mem, med);
        }
        (void)snprintf(name, sizeof(name), "ev_log_prove_%s, median, tree of %" PRIu64,
                       kind_name[kind], size);
        r = add_row("proofs (page cache)", name, "µs", &s_log, 2);
        set_target(r, GOAL_AT_MOST, 50, "< 50");
        set_limit(r, stats_median(&s_mem), "same algorithm, hashes mmapped");
        (void)snprintf(name, sizeof(name), "  ev_log_prove_%s, p99", kind_name[kind]);
        r = add_row("proofs (page cache)", name, "µs", &p_log, 2);
        (void)snprintf(name, sizeof(name), "  evi_prove_%s with a bare pread reader (%.1f reads)",
                       kind_name[kind], reads);
        r = add_row("proofs (page cache)", name, "µs", &s_pread, 2);
        set_limit(r, stats_median(&s_mem), "hashes mmapped");
    }
    (void)ev_log_close(log);
    (void)munmap(map, (size_t)st.st_size);
    (void)close(hfd);
    add_note("proofs: random leaf indexes (inclusion, in the whole tree) and random old sizes "
             "1..n (consistency to the whole tree), %d per run, from a read-only handle; the "
             "hashes and index files were read once before timing, so they were in the page "
             "cache.",
             PROOF_SAMPLES);
    remove_tree(dir);
}

/* ---- the checkpoint history --------------------------------------------------------- */

/* Lookups of random sizes timed on one handle, after its first. */
#define HISTORY_LOOKUPS 200

struct history_scan {
    const struct ev_verifier *verifier;
    uint64_t notes;
};

/* What ev_log_checkpoint_at() did for every call before the index: each note's signature. */
static int history_scan_visit(void *ctx, const char *note, size_t len)
{
    struct history_scan *h = ctx;
    struct ev_checkpoint cp;
    if (ev_checkpoint_open(note, len, h->verifier, &cp) == 0) {
        h->notes++;
    }
    return 0;
}

/*
 * The checkpoint of one tree size from a history of many (GET /v1/proof/N?size=,
 * `evident prove --size`): the first call on a handle (it indexes the history),
 * later calls (they read what is new and the one note), against the cost of one
 * signature check (the floor of any lookup) and of the whole-history scan every
 * call made before the index.
 */
static void bench_history(void)
{
    uint64_t n = opt.quick ? 500 : 5000;
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    char dir[PATH_MAX], name[160];
    struct stats first = {0}, later = {0}, scan = {0}, one = {0};
    struct ev_verifier *verifier = NULL;
    struct ev_log_info info;
    struct row *r;

    sub_path(dir, sizeof(dir), "history-log");
    create_log(dir, v);
    struct ev_log *log = open_log(dir, EV_SYNC_NEVER);
    progress("a history of %" PRIu64 " checkpoints", n + 1);
    for (uint64_t i = 0; i < n; i++) {
        struct ev_event ev = {.type = "bench.history", .severity = EV_SEV_INFO, .data_json = "{}"};
        uint64_t index;
        check(ev_log_append(log, &ev, &index), "ev_log_append");
        check(ev_log_checkpoint(log), "ev_log_checkpoint");
    }
    check(ev_log_info(log, &info), "ev_log_info");
    check(ev_verifier_parse(info.vkey, &verifier), "ev_verifier_parse");
    (void)ev_log_close(log);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        die("cannot open '%s': %s", dir, strerror(errno));
    }

    uint64_t seed = 0x5eed;
    for (int rep = 0; rep < opt.reps; rep++) {
        struct ev_open_options oo = {.flags = EV_OPEN_READONLY};
        char *note = NULL;
        size_t len = 0;
        check(ev_log_open(dir, &oo, &log), "ev_log_open (read-only)");
        uint64_t t0 = now_ns();
        check(ev_log_checkpoint_at(log, n / 2, &note, &len), "ev_log_checkpoint_at");
        stats_add(&first, (double)(now_ns() - t0) / 1e6);

        struct ev_checkpoint cp;
        t0 = now_ns();
        for (int k = 0; k < HISTORY_LOOKUPS; k++) {
            check(ev_checkpoint_open(note, len, verifier, &cp), "ev_checkpoint_open");
        }
        stats_add(&one, (double)(now_ns() - t0) / 1e3 / HISTORY_LOOKUPS);
        free(note);

        struct stats calls = {0};
        for (int k = 0; k < HISTORY_LOOKUPS; k++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            t0 = now_ns();
            check(ev_log_checkpoint_at(log, (seed >> 33) % (n + 1), &note, &len),
                  "ev_log_checkpoint_at");
            stats_add(&calls, (double)(now_ns() - t0) / 1e3);
            free(note);
        }
        stats_add(&later, stats_median(&calls));
        (void)ev_log_close(log);

        struct history_scan h = {.verifier = verifier};
        t0 = now_ns();
        check(evi_checkpoint_history_read(dirfd, history_scan_visit, &h), "history read");
        stats_add(&scan, (double)(now_ns() - t0) / 1e6);
        if (h.notes != n + 1) {
            die("the history holds %" PRIu64 " valid notes, not %" PRIu64, h.notes, n + 1);
        }
    }
    (void)close(dirfd);
    ev_verifier_free(verifier);

    (void)snprintf(name, sizeof(name),
                   "ev_log_checkpoint_at, later calls, median, history of %" PRIu64, n + 1);
    r = add_row("checkpoint history", name, "µs", &later, 1);
    set_limit(r, stats_median(&one), "one note's signature checked");
    (void)snprintf(name, sizeof(name), "  first call on a handle (indexes the history)");
    r = add_row("checkpoint history", name, "ms", &first, 2);
    (void)snprintf(name, sizeof(name),
                   "  the whole history read and every signature checked (each call, before)");
    add_row("checkpoint history", name, "ms", &scan, 2);
    add_note("checkpoint history: %d lookups of random sizes per repetition on one read-only "
             "handle after its first call; the history file in the page cache.",
             HISTORY_LOOKUPS);
    remove_tree(dir);
}

/* ---- the CLI ----------------------------------------------------------------------- */

/* The documented form first (src/cli/cmd-append.c), then older spellings. */
static const char *const cli_forms[] = {
    "-d {dir} append --jsonl --sync never",
    "append --jsonl --sync never --dir {dir}",
    "append --jsonl --sync never {dir}",
};

/* Splits template on spaces, replacing {dir}; argv[0] = cli. */
static void build_argv(const char *cli, const char *template, const char *dir, char *store,
                       size_t cap, char *argv[], int max)
{
    int argc = 0;
    size_t o = 0;
    argv[argc++] = (char *)cli;
    for (const char *p = template; *p != '\0' && argc < max - 1;) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        argv[argc++] = store + o;
        while (*p != '\0' && *p != ' ' && o + 1 < cap) {
            if (strncmp(p, "{dir}", 5) == 0) {
                size_t dl = strlen(dir);
                if (o + dl + 1 >= cap) {
                    die("CLI arguments too long");
                }
                memcpy(store + o, dir, dl);
                o += dl;
                p += 5;
            } else {
                store[o++] = *p++;
            }
        }
        store[o++] = '\0';
    }
    argv[argc] = NULL;
}

/* Runs the CLI with input on a pipe; returns its exit status (or -1) and the seconds taken. */
static int run_cli(const char *cli, const char *template, const char *dir, const char *input,
                   size_t len, const char *err_path, double *ret_seconds, double *ret_cpu_seconds)
{
    char store[PATH_MAX * 2];
    char *argv[32];
    int pipefd[2];

    build_argv(cli, template, dir, store, sizeof(store), argv, 32);
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        die("pipe: %s", strerror(errno));
    }
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int efd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nfd = open("/dev/null", O_WRONLY);
        if (dup2(pipefd[0], 0) < 0 || (nfd >= 0 && dup2(nfd, 1) < 0) ||
            (efd >= 0 && dup2(efd, 2) < 0)) {
            _exit(127);
        }
        setenv("EVIDENT_DIR", dir, 1);
        execv(cli, argv);
        _exit(127);
    }
    (void)close(pipefd[0]);
    for (size_t off = 0; off < len;) {
        ssize_t k = write(pipefd[1], input + off, len - off);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            break; /* EPIPE: the CLI stopped reading */
        }
        off += (size_t)k;
    }
    (void)close(pipefd[1]);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            die("wait4: %s", strerror(errno));
        }
    }
    *ret_seconds = seconds_since(t0);
    *ret_cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static uint64_t log_size_of(const char *dir)
{
    struct ev_open_options oo = {.flags = EV_OPEN_READONLY};
    struct ev_log *log = NULL;
    if (ev_log_open(dir, &oo, &log) < 0) {
        return UINT64_MAX;
    }
    uint64_t n = ev_log_size(log);
    (void)ev_log_close(log);
    return n;
}

/* The line for event i: {"type":...,"severity":...,"data":{...}}. */
static size_t jsonl_line(int i, char *out, size_t cap)
{
    int n = snprintf(out, cap, "{\"type\":\"%s\",\"severity\":\"%s\",\"data\":%s}\n",
                     events[i].type, ev_severity_name(events[i].severity), events[i].data_json);
    if (n < 0 || (size_t)n >= cap) {
        die("JSON line too long");
    }
    return (size_t)n;
}

static void self_dir_file(char *out, size_t cap, const char *rel)
{
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (k <= 0) {
        out[0] = '\0';
        return;
    }
    exe[k] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    int n = snprintf(out, cap, "%s/%s", exe, rel);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
    }
}

static void bench_cli(void)
{
    char cli[PATH_MAX], dir[PATH_MAX], err_path[PATH_MAX], line[1024];
    uint8_t v[EV_VERIFICATION_KEY_BYTES];
    const char *template = NULL;
    int status = 0;
    double t, cpu;

    if (opt.cli != NULL) {
        (void)snprintf(cli, sizeof(cli), "%s", opt.cli);
    } else {
        self_dir_file(cli, sizeof(cli), "../src/cli/evident");
    }
    if (access(cli, X_OK) != 0) {
        add_skip("CLI", "evident append --jsonl, sync never", "no evident binary");
        add_note("CLI: '%s' is not there: skipped", cli);
        return;
    }
    sub_path(dir, sizeof(dir), "cli-log");
    sub_path(err_path, sizeof(err_path), "cli-stderr");

    /* One line first, to find an argument form that works. */
    size_t one = jsonl_line(0, line, sizeof(line));
    size_t forms = opt.cli_args != NULL ? 1 : sizeof(cli_forms) / sizeof(cli_forms[0]);
    for (size_t f = 0; f < forms && template == NULL; f++) {
        const char *candidate = opt.cli_args != NULL ? opt.cli_args : cli_forms[f];
        create_log(dir, v);
        status = run_cli(cli, candidate, dir, line, one, err_path, &t, &cpu);
        if (status == 0 && log_size_of(dir) == 1) {
            template = candidate;
        }
    }
    if (template == NULL) {
        char err[160] = "";
        int fd = open(err_path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t k = read(fd, err, sizeof(err) - 1);
            err[k > 0 ? k : 0] = '\0';
            (void)close(fd);
            for (char *p = err; *p != '\0'; p++) {
                if (*p == '\n' || *p == '|') {
                    *p = ' ';
                }
            }
        }
        add_skip("CLI", "evident append --jsonl, sync never", "the CLI does not take appends yet");
        add_note("CLI: '%s' appended nothing with any of the argument forms tried (last exit "
                 "status %d%s%s); pass --cli-args to name the right one",
                 cli, status, err[0] != '\0' ? ", stderr: " : "", err);
        remove_tree(dir);
        (void)unlink(err_path);
        return;
    }

    uint64_t n = opt.cli_lines;
    size_t cap = (size_t)n * 400, len = 0;
    char *input = malloc(cap);
    if (input == NULL) {
        die("out of memory");
    }
    for (uint64_t i = 0; i < n; i++) {
        size_t k = jsonl_line((int)(i % EVENT_COUNT), line, sizeof(line));
        if (len + k > cap) {
            die("JSON lines larger than expected");
        }
        memcpy(input + len, line, k);
        len += k;
    }
    struct stats rate = {0}, cpu_rate = {0};
    progress("evident %s < %" PRIu64 " lines (%d x)", template, n, opt.reps);
    for (int rep = 0; rep < opt.reps; rep++) {
        create_log(dir, v);
        status = run_cli(cli, template, dir, input, len, err_path, &t, &cpu);
        uint64_t got = log_size_of(dir);
        if (status != 0 || got < n) {
            add_note("CLI: run %d exited with %d and left %" PRIu64 " entries for %" PRIu64
                     " lines",
                     rep + 1, status, got, n);
        }
        stats_add(&rate, (double)n / t);
        stats_add(&cpu_rate, (double)n / cpu);
    }
    free(input);
    remove_tree(dir);
    (void)unlink(err_path);
    char name[96];
    (void)snprintf(name, sizeof(name), "evident append --jsonl, sync never, %" PRIu64 " lines", n);
    struct row *r = add_row("CLI", name, "lines/s", &rate, 0);
    set_target(r, GOAL_AT_LEAST, 200000, "≥ 200,000");
    if (library_append_rate > 0) {
        set_limit(r, library_append_rate, "library batch append, canonical JSON");
    }
    r = add_row("CLI", "  same, per CPU-second of the CLI process", "lines/s", &cpu_rate, 0);
    if (library_append_cpu_rate > 0) {
        set_limit(r, library_append_cpu_rate, "library, canonical JSON, per CPU-second");
    }
    add_note("CLI: ran '%s %s' with the lines (data keys in producer order) written into a pipe "
             "by this process; the log was made with ev_log_create first. Its limit is the "
             "library's batch append of already-canonical JSON: the best the CLI can hand it.",
             cli, template);
}

/* ---- main ---------------------------------------------------------------------------- */

static void load_average(char *out, size_t cap)
{
    FILE *f = fopen("/proc/loadavg", "re");
    out[0] = '\0';
    if (f != NULL) {
        if (fgets(out, (int)cap, f) == NULL) {
            out[0] = '\0';
        }
        (void)fclose(f);
    }
    out[strcspn(out, " ")] = '\0'; /* the 1-minute figure */
}

static void print_machine(void)
{
    char model[256] = "unknown", line[4096];
    bool sha_ni = false, have_flags = false;
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) == 0 && strcmp(model, "unknown") == 0) {
                char *c = strchr(line, ':');
                if (c != NULL) {
                    (void)snprintf(model, sizeof(model), "%s", c + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
            } else if (strncmp(line, "flags", 5) == 0 && !have_flags) {
                have_flags = true;
                sha_ni = strstr(line, " sha_ni") != NULL;
            }
        }
        (void)fclose(f);
    }
    struct utsname u;
    (void)uname(&u);
    printf("evident-bench%s: %ld online CPUs, %s, sha_ni %s, Linux %s\n",
           opt.quick ? " (quick)" : "", sysconf(_SC_NPROCESSORS_ONLN), model,
           sha_ni ? "present" : "absent", u.release);
    printf("bench directory %s: %s, %.1f GB free; %s\n", bench_dir, fs_name(bench_dir),
           (double)free_bytes(bench_dir) / 1e9, OpenSSL_version(OPENSSL_VERSION));
    char load[64];
    load_average(load, sizeof(load));
    printf("load average (1 min) at start: %s\n", load);
    printf("each timed figure: median of %d runs (min .. max shown); ratio = median / machine "
           "limit\n",
           opt.reps);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    opt.reps = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            opt.quick = true;
        } else if (strcmp(a, "--keep") == 0) {
            opt.keep = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (val == NULL) {
            usage(stderr);
            return 2;
        } else if (strcmp(a, "--dir") == 0) {
            opt.dir = val;
            i++;
        } else if (strcmp(a, "--entries") == 0) {
            opt.proof_entries = parse_count(a, val);
            i++;
        } else if (strcmp(a, "--append-entries") == 0) {
            opt.append_entries = parse_count(a, val);
            i++;
        } else if (strcmp(a, "--cli-lines") == 0) {
            opt.cli_lines = parse_count(a, val);
            i++;
        } else if (strcmp(a, "--reps") == 0) {
            uint64_t r = parse_count(a, val);
            opt.reps = r > MAX_REPS ? MAX_REPS : (int)r;
            i++;
        } else if (strcmp(a, "--cli") == 0) {
            opt.cli = val;
            i++;
        } else if (strcmp(a, "--cli-args") == 0) {
            opt.cli_args = val;
            i++;
        } else if (strcmp(a, "--only") == 0) {
            opt.only = val;
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (opt.proof_entries == 0) {
        opt.proof_entries = opt.quick ? 100000 : 10000000;
    }
    if (opt.append_entries == 0) {
        opt.append_entries = opt.quick ? 20000 : 1000000;
    }
    if (opt.cli_lines == 0) {
        opt.cli_lines = opt.quick ? 5000 : 500000;
    }
    opt.group_seconds = opt.quick ? 0.2 : 2.0;
    opt.fsync_iterations = opt.quick ? 100 : 1000;
    opt.crypto_seconds = opt.quick ? 0.02 : 0.2;
    (void)signal(SIGPIPE, SIG_IGN);

    if (opt.dir != NULL) {
        if (mkdir(opt.dir, 0750) < 0 && errno != EEXIST) {
            die("cannot create '%s': %s", opt.dir, strerror(errno));
        }
        if (realpath(opt.dir, bench_dir) == NULL) {
            die("cannot resolve '%s': %s", opt.dir, strerror(errno));
        }
    } else {
        (void)snprintf(bench_dir, sizeof(bench_dir), "/var/tmp/evident-bench.XXXXXX");
        if (mkdtemp(bench_dir) == NULL) {
            die("cannot create a directory under /var/tmp: %s", strerror(errno));
        }
        bench_dir_is_temp = true;
    }

    print_machine();
    uint64_t t_start = now_ns();
    make_events();
    fprintf(stderr, "machine limits\n");
    if (want("limits")) {
        measure_primitives();
        measure_fsync();
    } else {
        char entry[1024];
        lim.record_bytes = sample_entry(entry, sizeof(entry)) + 44;
        add_note("--only without 'limits': no machine limits were measured, so no ratios");
    }
    if (want("append") || want("verify")) {
        fprintf(stderr, "append, sync never\n");
        bench_append();
    }
    if (want("typed")) {
        fprintf(stderr, "typed events\n");
        bench_typed();
    }
    if (want("verify")) {
        fprintf(stderr, "verification\n");
        bench_verify();
    } else {
        remove_tree(verify_dir);
    }
    if (want("compress")) {
        fprintf(stderr, "compression\n");
        bench_compress();
    }
    if (want("retention")) {
        fprintf(stderr, "retention\n");
        bench_retention();
    }
    if (want("encrypt")) {
        fprintf(stderr, "encryption at rest\n");
        bench_encrypt();
    }
    if (want("group")) {
        fprintf(stderr, "append, sync always\n");
        bench_group();
    }
    if (want("proofs")) {
        fprintf(stderr, "large log\n");
        bench_large_log();
    }
    if (want("history")) {
        fprintf(stderr, "checkpoint history\n");
        bench_history();
    }
    if (want("cli")) {
        fprintf(stderr, "CLI\n");
        bench_cli();
    }
    char load[64];
    load_average(load, sizeof(load));
    add_note("load average (1 min) at the end: %s; this machine has %ld CPUs", load,
             sysconf(_SC_NPROCESSORS_ONLN));
    print_table();
    printf("\ntotal time %.0f s\n", seconds_since(t_start));

    for (int i = 0; i < EVENT_COUNT; i++) {
        free(event_data[0][i]);
        free(event_data[1][i]);
    }
    if (bench_dir_is_temp) {
        remove_tree(bench_dir);
    }
    return 0;
}
