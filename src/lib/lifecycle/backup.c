/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backups and restores (backup.h, docs/LIFECYCLE.md): a generation is a prefix
 * of the log cut at a signed checkpoint found in the history (FORMAT.md §8),
 * made without the writer lock; closed segments are shared between
 * generations by hard links; restore rebuilds the derived files (§6).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <evident/backup.h>
#include <evident/error.h>
#include <evident/note.h>
#include <evident/verify.h>

#include "crypto.h"
#include "entry.h"
#include "error.h"
#include "record.h"
#include "store.h"
#include "tree.h"

#define MANIFEST_MAGIC "evident-backup v1\n"
#define HISTORY_MAX ((size_t)1 << 30)
#define TAIL_CHECK 4096u /* bytes compared at the end of a file shared with the previous copy */
#define COPY_CHUNK ((size_t)1 << 20)
#define SEGMENT_NAME_DIGITS 20
#define LIST_RETRIES 8

/* ---- small helpers ------------------------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Removes a directory tree below dirfd/name (no symlinks followed). */
static int remove_tree(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d;
    struct dirent *de;
    int r = 0;

    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP) {
            return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
        }
        return errno == ENOENT ? 0 : -errno;
    }
    d = fdopendir(fd);
    if (d == NULL) {
        r = -errno;
        (void)close(fd);
        return r;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (de->d_type == DT_DIR) {
            r = remove_tree(fd, de->d_name);
        } else if (unlinkat(fd, de->d_name, 0) < 0) {
            r = errno == EISDIR ? remove_tree(fd, de->d_name) : -errno;
        }
        if (r < 0) {
            break;
        }
    }
    (void)closedir(d);
    if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
        r = -errno;
    }
    return r;
}

/* Copies len bytes from in at in_off to out at out_off, in the kernel where it can. */
static int copy_range(int in, uint64_t in_off, int out, uint64_t out_off, uint64_t len)
{
    bool kernel = true;
    uint8_t *buf = NULL;
    int r = 0;

    while (len > 0) {
        size_t want = len > COPY_CHUNK ? COPY_CHUNK : (size_t)len;
        ssize_t n;
        if (kernel) {
            loff_t a = (loff_t)in_off, b = (loff_t)out_off;
            n = copy_file_range(in, &a, out, &b, want, 0);
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                          errno == EOPNOTSUPP || errno == EPERM)) {
                kernel = false;
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                r = -errno;
                break;
            }
            if (n == 0) {
                r = -EIO; /* the source is shorter than it was a moment ago */
                break;
            }
        } else {
            if (buf == NULL && (buf = malloc(COPY_CHUNK)) == NULL) {
                r = -ENOMEM;
                break;
            }
            r = evi_read_exact(in, buf, want, (off_t)in_off);
            if (r == 0) {
                r = evi_write_all(out, buf, want, (off_t)out_off);
            }
            if (r < 0) {
                break;
            }
            n = (ssize_t)want;
        }
        in_off += (uint64_t)n;
        out_off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    free(buf);
    return r;
}

/* Writes a new file (fails if it exists) with data, synced. */
static int write_new_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    int r;

    if (fd < 0) {
        return -errno;
    }
    r = evi_write_all(fd, data, len, 0);
    if (r == 0) {
        r = evi_io_fsync(fd);
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    return r;
}

/* Whether bytes [end - TAIL_CHECK, end) of a and b are equal (both at least end long). */
static int same_tail(int a, int b, uint64_t end)
{
    uint8_t x[TAIL_CHECK], y[TAIL_CHECK];
    uint64_t n = end < TAIL_CHECK ? end : TAIL_CHECK;
    int r;

    if ((r = evi_read_exact(a, x, (size_t)n, (off_t)(end - n))) < 0 ||
        (r = evi_read_exact(b, y, (size_t)n, (off_t)(end - n))) < 0) {
        return r == -EIO ? 0 : r;
    }
    return memcmp(x, y, (size_t)n) == 0;
}

/* ---- segments of the log --------------------------------------------------------------- */

struct seg_file {
    uint64_t first_index;
    char name[128];
    bool plain; /* exactly NNN.seg: the form the writer appends to (FORMAT.md §3) */
    int fd;
    uint64_t bytes;
};

/*
 * Segment files are "<20 digits>.seg" and, once closed, may take a suffix
 * (".seg.zst", compressed) or become "<20 digits>.pruned" (retention,
 * FORMAT.md §3.2). Temporary files (a leading '.', or ".tmp" at the
 * end) are a tool at work and not part of the log.
 */
static bool parse_segment_file(const char *name, uint64_t *ret_first, bool *ret_plain)
{
    size_t len = strlen(name);
    uint64_t v = 0;

    bool pruned =
        len == SEGMENT_NAME_DIGITS + 7 && strcmp(name + SEGMENT_NAME_DIGITS, ".pruned") == 0;
    if (!pruned && (len < SEGMENT_NAME_DIGITS + 4 || len >= sizeof(((struct seg_file *)0)->name) ||
                    strncmp(name + SEGMENT_NAME_DIGITS, ".seg", 4) != 0)) {
        return false;
    }
    if (!pruned && name[SEGMENT_NAME_DIGITS + 4] != '\0' && name[SEGMENT_NAME_DIGITS + 4] != '.') {
        return false;
    }
    if (len >= 4 && strcmp(name + len - 4, ".tmp") == 0) {
        return false;
    }
    for (int i = 0; i < SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *ret_first = v;
    *ret_plain = len == SEGMENT_NAME_DIGITS + 4;
    return true;
}

static int cmp_seg(const void *a, const void *b)
{
    const struct seg_file *x = a, *y = b;
    if (x->first_index != y->first_index) {
        return x->first_index < y->first_index ? -1 : 1;
    }
    /*
     * The plain .seg first: when both forms are present the store reads the
     * .seg (FORMAT.md §3.1: the .zst may be redone), and so does a backup.
     * Of a segment caught between its whole and its pruned form (§3.2) the
     * backup keeps the whole one: it is the same entries, with their bytes.
     */
    return (int)y->plain - (int)x->plain;
}

static void segs_close(struct seg_file *segs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (segs[i].fd >= 0) {
            (void)close(segs[i].fd);
        }
    }
    free(segs);
}

/*
 * Lists the segment files of segdirfd and opens them, one per first index.
 * Opening is what pins a file: once open, a compressor replacing it or a
 * pruner removing it does not change what is read. -EAGAIN if a file went
 * away between listing and opening (the caller lists again).
 */
static int segs_list(int segdirfd, struct seg_file **ret_segs, size_t *ret_count)
{
    int fd = dup(segdirfd);
    DIR *d;
    struct dirent *de;
    struct seg_file *segs = NULL;
    size_t n = 0, cap = 0, kept = 0;
    int r = 0;

    if (fd < 0) {
        return -errno;
    }
    d = fdopendir(fd);
    if (d == NULL) {
        r = -errno;
        (void)close(fd);
        return r;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        uint64_t first;
        bool plain;
        if (!parse_segment_file(de->d_name, &first, &plain)) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct seg_file *ns;
            if (ncap > EV_BACKUP_MAX_SEGMENTS || (ns = realloc(segs, ncap * sizeof(*ns))) == NULL) {
                r = ncap > EV_BACKUP_MAX_SEGMENTS ? EV_ETOOBIG : -ENOMEM;
                goto out;
            }
            segs = ns;
            cap = ncap;
        }
        segs[n].first_index = first;
        segs[n].plain = plain;
        segs[n].fd = -1;
        segs[n].bytes = 0;
        memcpy(segs[n].name, de->d_name, strlen(de->d_name) + 1); /* length checked above */
        n++;
    }
    if (n > 0) {
        qsort(segs, n, sizeof(*segs), cmp_seg);
    }
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && segs[kept - 1].first_index == segs[i].first_index) {
            continue; /* the .zst of a .seg a compressor has not removed yet */
        }
        segs[kept++] = segs[i];
    }
    n = kept;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        segs[i].fd = openat(segdirfd, segs[i].name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (segs[i].fd < 0) {
            r = errno == ENOENT ? -EAGAIN
                                : evi_error(-errno, "cannot open segment '%s': %s", segs[i].name,
                                            strerror(errno));
            goto out;
        }
        if (fstat(segs[i].fd, &st) < 0) {
            r = -errno;
            goto out;
        }
        segs[i].bytes = (uint64_t)st.st_size;
    }
    *ret_segs = segs;
    *ret_count = n;
    segs = NULL;
out:
    if (segs != NULL) {
        segs_close(segs, n);
    }
    (void)closedir(d);
    return r;
}

/* ---- the history and the checkpoint it is cut at --------------------------------------- */

struct cut {
    char *history; /* the history file's bytes */
    size_t history_len;
    size_t history_end; /* bytes of whole frames up to and including the chosen note */
    const char *note;   /* the chosen (latest) note, inside history */
    size_t note_len;
    struct ev_checkpoint cp;
};

/*
 * Reads the history (FORMAT.md §8: u32 length, u32 CRC32C, note) and takes its
 * last whole frame: the writer appends to the history before it replaces
 * `checkpoint`, so the history's last note is the newest one, and its records
 * are durable. A frame still being written is torn and ends the history.
 */
static int read_cut(int dirfd, const struct ev_verifier *key, struct cut *ret)
{
    size_t pos = 0;
    int r =
        evi_read_file(dirfd, EVI_CHECKPOINTS_FILE, HISTORY_MAX, &ret->history, &ret->history_len);

    if (r < 0) {
        return evi_error(r, "cannot read the checkpoint history: %s", ev_strerror(r));
    }
    while (ret->history_len - pos >= 8) {
        const uint8_t *h = (const uint8_t *)ret->history + pos;
        uint32_t n = le32(h), crc = le32(h + 4);
        if (n > ret->history_len - pos - 8) {
            break;
        }
        if (evi_crc32c(0, h + 8, n) != crc) {
            return evi_error(EV_ECORRUPT,
                             "checkpoints: damaged frame at byte %zu; run 'evident verify'", pos);
        }
        ret->note = ret->history + pos + 8;
        ret->note_len = n;
        pos += 8 + (size_t)n;
        ret->history_end = pos;
    }
    if (ret->note == NULL) {
        return evi_error(EV_EFORMAT, "the log has no signed checkpoint yet");
    }
    r = ev_checkpoint_open(ret->note, ret->note_len, key, &ret->cp);
    if (r < 0) {
        return evi_error(r, "the log's latest checkpoint does not verify: %s", ev_last_error());
    }
    return 0;
}

/* ---- the previous generation ----------------------------------------------------------- */

struct generation {
    char name[EV_BACKUP_NAME_MAX];
    int dirfd;    /* -1 if none */
    int segdirfd; /* -1 if none */
    char *note;
    size_t note_len;
    struct ev_checkpoint cp;
    uint64_t records;
    char last_segment[128];
    uint64_t last_segment_bytes;
};

static bool is_generation_name(const char *name)
{
    size_t len = strlen(name);
    /* YYYYMMDDTHHMMSSZ-SIZE */
    if (len < 18 || len >= EV_BACKUP_NAME_MAX || name[8] != 'T' || name[15] != 'Z' ||
        name[16] != '-') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (i == 8 || i == 15 || i == 16) {
            continue;
        }
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
    }
    return true;
}

/*
 * Generations in the order they were made: by tree size (a log only grows,
 * and a backup of an unchanged log makes no generation), then by name. Not
 * by name alone: "...Z-9" sorts after "...Z-10" within one second, and a
 * clock step back would misorder the time stamps.
 */
static int cmp_names(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    unsigned long long sx = strtoull(x + 17, NULL, 10), sy = strtoull(y + 17, NULL, 10);

    if (sx != sy) {
        return sx < sy ? -1 : 1;
    }
    return strcmp(x, y);
}

void ev_backup_names_free(char **names, size_t count)
{
    for (size_t i = 0; names != NULL && i < count; i++) {
        free(names[i]);
    }
    free(names);
}

static int list_generations(int dirfd, char ***ret_names, size_t *ret_count)
{
    int fd = dup(dirfd);
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int r = 0;

    if (fd < 0) {
        return -errno;
    }
    d = fdopendir(fd);
    if (d == NULL) {
        r = -errno;
        (void)close(fd);
        return r;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        if (!is_generation_name(de->d_name)) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn;
            if (ncap > 2 * EV_BACKUP_MAX_GENERATIONS ||
                (nn = realloc(names, ncap * sizeof(*nn))) == NULL) {
                r = ncap > 2 * EV_BACKUP_MAX_GENERATIONS ? EV_ETOOBIG : -ENOMEM;
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            r = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (n > 0) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    *ret_names = names;
    *ret_count = n;
    names = NULL;
out:
    ev_backup_names_free(names, n);
    (void)closedir(d);
    return r;
}

int ev_backup_list(const char *backup_dir, char ***ret_names, size_t *ret_count)
{
    int dirfd = open(backup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r;

    evi_error_clear();
    if (dirfd < 0) {
        return evi_error(-errno, "cannot open '%s': %s", backup_dir, strerror(errno));
    }
    r = list_generations(dirfd, ret_names, ret_count);
    (void)close(dirfd);
    return r;
}

static void generation_close(struct generation *g)
{
    if (g->dirfd >= 0) {
        (void)close(g->dirfd);
    }
    if (g->segdirfd >= 0) {
        (void)close(g->segdirfd);
    }
    free(g->note);
    g->dirfd = g->segdirfd = -1;
    g->note = NULL;
}

/* Reads "key value" lines of the manifest we care about; missing keys stay zero. */
static void parse_manifest(const char *text, struct generation *g)
{
    const char *line = text;

    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        char buf[256];
        if (len < sizeof(buf)) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            unsigned long long a;
            char name[128];
            if (sscanf(buf, "records %llu", &a) == 1) {
                g->records = a;
            } else if (sscanf(buf, "last_segment %127s %llu", name, &a) == 2) {
                (void)snprintf(g->last_segment, sizeof(g->last_segment), "%s", name);
                g->last_segment_bytes = a;
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
}

/* Opens generation name of backup dirfd and reads its checkpoint and manifest. */
static int generation_open(int dirfd, const char *name, const struct ev_verifier *key,
                           struct generation *g)
{
    char *manifest = NULL;
    size_t len;
    int r;

    memset(g, 0, sizeof(*g));
    g->dirfd = g->segdirfd = -1;
    (void)snprintf(g->name, sizeof(g->name), "%s", name);
    g->dirfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (g->dirfd < 0) {
        return evi_error(-errno, "cannot open generation '%s': %s", name, strerror(errno));
    }
    g->segdirfd = openat(g->dirfd, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (g->segdirfd < 0) {
        return evi_error(-errno, "generation '%s' has no segments/: %s", name, strerror(errno));
    }
    r = evi_read_file(g->dirfd, EVI_CHECKPOINT_FILE, EV_NOTE_MAX_BYTES, &g->note, &g->note_len);
    if (r < 0) {
        return evi_error(r, "cannot read generation '%s''s checkpoint: %s", name, ev_strerror(r));
    }
    if (key != NULL) {
        r = ev_checkpoint_open(g->note, g->note_len, key, &g->cp);
        if (r < 0) {
            return evi_error(r,
                             "generation '%s''s checkpoint does not verify with the log's key: %s",
                             name, ev_last_error());
        }
    }
    if (evi_read_file(g->dirfd, EV_BACKUP_MANIFEST, 65536, &manifest, &len) == 0) {
        parse_manifest(manifest, g);
        free(manifest);
    }
    return 0;
}

/* ---- making one generation ------------------------------------------------------------- */

struct build {
    int logfd, segdirfd;     /* the log */
    int tmpfd, tmpsegfd;     /* the generation being made */
    struct generation *prev; /* or NULL */
    struct ev_backup_report *rep;
};

/*
 * Finds the end of record `last` in a plain segment, scanning whole records
 * (each checked, FORMAT.md §4) from offset at, which holds record index.
 */
static int find_record_end(int fd, uint64_t file_bytes, uint64_t at, uint64_t index, uint64_t last,
                           uint64_t *ret_end)
{
    /* Records are read through a window of COPY_CHUNK bytes, refilled when one does not fit. */
    const size_t cap = COPY_CHUNK + EVI_RECORD_MAX;
    uint8_t *buf = malloc(cap);
    uint64_t buf_off = at;
    size_t buf_len = 0;
    int r = 0;

    if (buf == NULL) {
        return -ENOMEM;
    }
    while (index <= last) {
        struct evi_record rec;
        size_t need, pos = (size_t)(at - buf_off);
        enum evi_record_status st = evi_record_decode(buf + pos, buf_len - pos, &rec, &need);
        if (st == EVI_RECORD_SHORT && buf_off + buf_len < file_bytes) {
            uint64_t avail = file_bytes - at;
            if (avail > cap) {
                avail = cap;
            }
            buf_off = at;
            buf_len = (size_t)avail;
            if ((r = evi_read_exact(fd, buf, buf_len, (off_t)buf_off)) < 0) {
                break;
            }
            continue;
        }
        if (st != EVI_RECORD_OK) {
            r = evi_error(EV_ECORRUPT,
                          "record %" PRIu64 " is %s below a signed checkpoint of %" PRIu64
                          " entries; run 'evident verify'",
                          index, at >= file_bytes ? "missing" : evi_record_status_name(st),
                          last + 1);
            break;
        }
        at += rec.size;
        index++;
    }
    if (r == 0) {
        *ret_end = at;
    }
    free(buf);
    return r;
}

/*
 * Puts want bytes of segment s into the new generation: a hard link to the
 * previous generation's copy when it is the same file, else the previous copy
 * (as far as it agrees with the log) plus the rest from the log.
 */
static int put_segment(struct build *b, const struct seg_file *s, uint64_t want)
{
    struct generation *prev = b->prev;
    int pfd = -1, out = -1, r;
    uint64_t have = 0;
    struct stat st;

    if (prev != NULL) {
        pfd = openat(prev->segdirfd, s->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (pfd >= 0 && fstat(pfd, &st) == 0 && (uint64_t)st.st_size <= want) {
        have = (uint64_t)st.st_size;
        r = same_tail(pfd, s->fd, have);
        if (r < 0) {
            goto out;
        }
        if (r == 0) {
            have = 0; /* not a prefix of what the log holds now: copy it all */
        }
    }
    if (have == want && have > 0) {
        if (linkat(prev->segdirfd, s->name, b->tmpsegfd, s->name, 0) == 0) {
            b->rep->bytes_linked += want;
            b->rep->segments_linked++;
            r = 0;
            goto out;
        }
        if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
            r = evi_error(-errno, "cannot link '%s': %s", s->name, strerror(errno));
            goto out;
        }
        /* Links are not possible here: fall through to a copy of the previous file. */
    }
    out = openat(b->tmpsegfd, s->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0) {
        r = evi_error(-errno, "cannot create '%s': %s", s->name, strerror(errno));
        goto out;
    }
    if (have > 0) {
        r = copy_range(pfd, 0, out, 0, have);
        if (r < 0) {
            goto out;
        }
        b->rep->bytes_cloned += have;
    }
    r = copy_range(s->fd, have, out, have, want - have);
    if (r < 0) {
        r = evi_error(r, "cannot copy segment '%s': %s", s->name, strerror(-r));
        goto out;
    }
    b->rep->bytes_copied += want - have;
    b->rep->segments_copied++;
    r = evi_io_fsync(out);
out:
    if (out >= 0 && close(out) < 0 && r == 0) {
        r = -errno;
    }
    if (pfd >= 0) {
        (void)close(pfd);
    }
    return r;
}

/* The segment files of the cut: every one before the one holding entry size-1, that one in part. */
static int put_segments(struct build *b, struct seg_file *segs, size_t n, uint64_t size,
                        uint64_t *ret_records, char *ret_last, size_t last_cap,
                        uint64_t *ret_last_bytes)
{
    size_t last = 0;
    int r;

    if (n == 0 || segs[0].first_index != 0) {
        return evi_error(EV_EFORMAT, "the log's first segment is missing");
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && segs[i].first_index <= segs[i - 1].first_index) {
            return evi_error(EV_EFORMAT, "segments out of order at '%s'", segs[i].name);
        }
        if (size > 0 && segs[i].first_index <= size - 1) {
            last = i;
        }
    }
    for (size_t i = 0; i < last; i++) {
        r = put_segment(b, &segs[i], segs[i].bytes);
        if (r < 0) {
            return r;
        }
    }
    const struct seg_file *s = &segs[last];
    uint64_t want = s->bytes, records;
    if (s->plain) {
        /* Where the entry size-1 ends; start after the previous copy when it holds a prefix. */
        uint64_t at = EVI_SEGMENT_HEADER, index = s->first_index;
        struct generation *p = b->prev;
        if (size == 0) {
            want = EVI_SEGMENT_HEADER;
        } else {
            if (p != NULL && strcmp(p->last_segment, s->name) == 0 && p->records > index &&
                p->records <= size && p->last_segment_bytes >= EVI_SEGMENT_HEADER &&
                p->last_segment_bytes <= s->bytes) {
                /* Trust the previous copy's record count only where it still matches the log. */
                int pfd = openat(p->segdirfd, s->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                struct stat pst;
                if (pfd >= 0 && fstat(pfd, &pst) == 0 &&
                    (uint64_t)pst.st_size == p->last_segment_bytes &&
                    same_tail(pfd, s->fd, p->last_segment_bytes) == 1) {
                    at = p->last_segment_bytes;
                    index = p->records;
                }
                if (pfd >= 0) {
                    (void)close(pfd);
                }
            }
            if (index == size) {
                want = at;
            } else {
                r = find_record_end(s->fd, s->bytes, at, index, size - 1, &want);
                if (r < 0) {
                    return r;
                }
            }
        }
        records = size;
    } else {
        /* A closed file in another form (compressed): kept whole; it ends where the next begins. */
        records = last + 1 < n ? segs[last + 1].first_index : size;
    }
    if (want < EVI_SEGMENT_HEADER || want > s->bytes) {
        return evi_error(EV_EFORMAT, "segment '%s' is shorter than its records", s->name);
    }
    r = put_segment(b, s, want);
    if (r < 0) {
        return r;
    }
    *ret_records = records;
    (void)snprintf(ret_last, last_cap, "%s", s->name);
    *ret_last_bytes = want;
    return 0;
}

static void generation_name(int64_t now_ns, uint64_t size, char out[EV_BACKUP_NAME_MAX])
{
    time_t t = (time_t)(now_ns / 1000000000);
    struct tm tm;
    char stamp[32];

    (void)gmtime_r(&t, &tm);
    (void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    (void)snprintf(out, EV_BACKUP_NAME_MAX, "%s-%" PRIu64, stamp, size);
}

static void time_rfc3339(int64_t now_ns, char out[40])
{
    time_t t = (time_t)(now_ns / 1000000000);
    struct tm tm;
    (void)gmtime_r(&t, &tm);
    (void)strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Removes the oldest generations beyond keep; never the one just made. */
static int prune(int bdirfd, uint64_t keep, const char *made, uint64_t *ret_removed)
{
    char **names = NULL;
    size_t n = 0;
    int r;

    if (keep == 0) {
        return 0;
    }
    r = list_generations(bdirfd, &names, &n);
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < n && n - i > keep; i++) {
        if (strcmp(names[i], made) == 0) {
            continue;
        }
        r = remove_tree(bdirfd, names[i]);
        if (r < 0) {
            r = evi_error(r, "cannot remove old generation '%s': %s", names[i], strerror(-r));
            break;
        }
        (*ret_removed)++;
    }
    ev_backup_names_free(names, n);
    if (r == 0) {
        r = evi_io_fsync(bdirfd);
    }
    return r;
}

static int remove_stale_temporaries(int bdirfd)
{
    int fd = dup(bdirfd);
    DIR *d;
    struct dirent *de;
    int r = 0;

    if (fd < 0) {
        return -errno;
    }
    d = fdopendir(fd);
    if (d == NULL) {
        r = -errno;
        (void)close(fd);
        return r;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL && r == 0) {
        if (strncmp(de->d_name, ".tmp-", 5) == 0) {
            r = remove_tree(bdirfd, de->d_name);
        }
    }
    (void)closedir(d);
    return r;
}

static int verify_against(int bdirfd, const char *backup_dir, const char *tmpname,
                          const struct ev_backup_options *o, const struct generation *prev)
{
    char path[4096];
    struct ev_verify_report vr;
    const char *notes[1];
    size_t lens[1];
    struct ev_verify_options vo = {.pubkey = o->pubkey};
    int r;

    (void)bdirfd;
    if (snprintf(path, sizeof(path), "%s/%s", backup_dir, tmpname) >= (int)sizeof(path)) {
        return -ENAMETOOLONG;
    }
    if (prev != NULL) {
        notes[0] = prev->note;
        lens[0] = prev->note_len;
        vo.checkpoints = notes;
        vo.checkpoint_lens = lens;
        vo.checkpoint_count = 1;
    }
    memset(&vr, 0, sizeof(vr));
    r = ev_verify_dir(path, &vo, &vr);
    if (r == EV_EVERIFY) {
        if (vr.has_entry) {
            return evi_error(EV_EVERIFY,
                             "the new backup does not verify%s: entry %" PRIu64 ": %s: %s",
                             prev != NULL ? " against the previous generation" : "", vr.entry,
                             ev_failure_name(vr.failure), vr.detail);
        }
        return evi_error(EV_EVERIFY, "the new backup does not verify%s: %s: %s",
                         prev != NULL ? " against the previous generation" : "",
                         ev_failure_name(vr.failure), vr.detail);
    }
    return r;
}

int ev_backup_create(const char *log_dir, const char *backup_dir,
                     const struct ev_backup_options *options, struct ev_backup_report *ret_report)
{
    struct ev_backup_options o = {0};
    struct ev_backup_report rep;
    struct evi_meta meta;
    struct ev_verifier *key = NULL;
    struct cut cut = {0};
    struct generation prev = {.dirfd = -1, .segdirfd = -1};
    struct build b = {.logfd = -1, .segdirfd = -1, .tmpfd = -1, .tmpsegfd = -1, .rep = &rep};
    struct seg_file *segs = NULL;
    size_t nsegs = 0;
    char **names = NULL, tmpname[EV_BACKUP_NAME_MAX + 8] = "";
    size_t nnames = 0;
    char *meta_text = NULL;
    size_t meta_len;
    int bdirfd = -1, r;

    evi_error_clear();
    memset(&rep, 0, sizeof(rep));
    if (options != NULL) {
        o = *options;
    }
    if (o.now_ns == 0) {
        o.now_ns = evi_now_ns();
    }
    b.logfd = open(log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b.logfd < 0) {
        r = evi_error(-errno, "cannot open '%s': %s", log_dir, strerror(errno));
        goto out;
    }
    if ((r = evi_meta_read(b.logfd, &meta)) < 0 ||
        (r = evi_read_file(b.logfd, EVI_META_FILE, EVI_META_MAX, &meta_text, &meta_len)) < 0) {
        goto out;
    }
    r = ev_verifier_parse(o.pubkey != NULL ? o.pubkey : meta.vkey, &key);
    if (r < 0) {
        goto out;
    }
    b.segdirfd = openat(b.logfd, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b.segdirfd < 0) {
        r = evi_error(-errno, "cannot open '%s/segments': %s", log_dir, strerror(errno));
        goto out;
    }
    /* The cut first, then the segments: every record under it is on disk by now. */
    r = read_cut(b.logfd, key, &cut);
    if (r < 0) {
        goto out;
    }
    for (int attempt = 0;; attempt++) {
        r = segs_list(b.segdirfd, &segs, &nsegs);
        if (r != -EAGAIN || attempt == LIST_RETRIES) {
            break;
        }
    }
    if (r < 0) {
        r = r == -EAGAIN ? evi_error(-EAGAIN, "segments keep changing; try again") : r;
        goto out;
    }
    rep.tree_size = cut.cp.tree_size;

    r = evi_mkdir_p(backup_dir, 0700);
    if (r < 0) {
        r = evi_error(r, "cannot create '%s': %s", backup_dir, strerror(-r));
        goto out;
    }
    bdirfd = open(backup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (bdirfd < 0) {
        r = evi_error(-errno, "cannot open '%s': %s", backup_dir, strerror(errno));
        goto out;
    }
    if ((r = remove_stale_temporaries(bdirfd)) < 0 ||
        (r = list_generations(bdirfd, &names, &nnames)) < 0) {
        goto out;
    }
    if (nnames > 0) {
        r = generation_open(bdirfd, names[nnames - 1], key, &prev);
        if (r < 0) {
            goto out;
        }
        b.prev = &prev;
        rep.previous_size = prev.cp.tree_size;
        if (prev.note_len == cut.note_len && memcmp(prev.note, cut.note, cut.note_len) == 0) {
            rep.unchanged = true;
            rep.records = prev.records;
            (void)snprintf(rep.generation, sizeof(rep.generation), "%s", prev.name);
            r = prune(bdirfd, o.keep, prev.name, &rep.generations_removed);
            goto out;
        }
        if (cut.cp.tree_size < prev.cp.tree_size) {
            r = evi_error(EV_ETRUNCATED,
                          "the log's latest checkpoint is for %" PRIu64
                          " entries but backup '%s' holds %" PRIu64
                          ": the log shrank; nothing was written",
                          cut.cp.tree_size, prev.name, prev.cp.tree_size);
            goto out;
        }
        if (cut.cp.tree_size == prev.cp.tree_size) {
            r = evi_error(EV_EFORKED,
                          "the log's checkpoint for %" PRIu64
                          " entries differs from backup '%s''s: the log forked; nothing was "
                          "written",
                          cut.cp.tree_size, prev.name);
            goto out;
        }
    }

    generation_name(o.now_ns, cut.cp.tree_size, rep.generation);
    (void)snprintf(tmpname, sizeof(tmpname), ".tmp-%s", rep.generation);
    if (mkdirat(bdirfd, tmpname, 0755) < 0) {
        r = evi_error(-errno, "cannot create '%s/%s': %s", backup_dir, tmpname, strerror(errno));
        tmpname[0] = '\0';
        goto out;
    }
    b.tmpfd = openat(bdirfd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (b.tmpfd < 0 || mkdirat(b.tmpfd, EVI_SEGMENTS_DIR, 0755) < 0) {
        r = -errno;
        goto out;
    }
    b.tmpsegfd = openat(b.tmpfd, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b.tmpsegfd < 0) {
        r = -errno;
        goto out;
    }
    char last_name[128] = "";
    uint64_t last_bytes = 0;
    r = put_segments(&b, segs, nsegs, cut.cp.tree_size, &rep.records, last_name, sizeof(last_name),
                     &last_bytes);
    if (r < 0) {
        goto out;
    }

    /* The public files. The history only up to the cut: later notes cover records not here. */
    char created[40], manifest[1024];
    time_rfc3339(o.now_ns, created);
    int mlen =
        snprintf(manifest, sizeof(manifest),
                 MANIFEST_MAGIC "origin %s\ntree_size %" PRIu64 "\nrecords %" PRIu64
                                "\ncreated %s\nlast_segment %s %" PRIu64 "\n",
                 cut.cp.origin, cut.cp.tree_size, rep.records, created, last_name, last_bytes);
    if (mlen < 0 || (size_t)mlen >= sizeof(manifest)) {
        r = -EOVERFLOW;
        goto out;
    }
    rep.bytes_copied += meta_len + cut.history_end + cut.note_len;
    if ((r = evi_io_fsync(b.tmpsegfd)) < 0 ||
        (r = write_new_file(b.tmpfd, EVI_META_FILE, meta_text, meta_len, 0644)) < 0 ||
        (r = write_new_file(b.tmpfd, EVI_CHECKPOINTS_FILE, cut.history, cut.history_end, 0644)) <
            0 ||
        (r = write_new_file(b.tmpfd, EVI_CHECKPOINT_FILE, cut.note, cut.note_len, 0644)) < 0 ||
        (r = write_new_file(b.tmpfd, EV_BACKUP_MANIFEST, manifest, (size_t)mlen, 0644)) < 0 ||
        (r = evi_io_fsync(b.tmpfd)) < 0) {
        r = evi_error(r, "cannot write the backup: %s", strerror(-r));
        goto out;
    }
    if (o.verify) {
        r = verify_against(bdirfd, backup_dir, tmpname, &o, b.prev);
        if (r < 0) {
            goto out;
        }
    }
    if (renameat(bdirfd, tmpname, bdirfd, rep.generation) < 0) {
        r = evi_error(-errno, "cannot rename the backup into place: %s", strerror(errno));
        goto out;
    }
    tmpname[0] = '\0';
    r = evi_io_fsync(bdirfd);
    if (r == 0) {
        r = prune(bdirfd, o.keep, rep.generation, &rep.generations_removed);
    }
out:
    if (tmpname[0] != '\0' && bdirfd >= 0) {
        int saved = r;
        (void)remove_tree(bdirfd, tmpname);
        r = saved;
    }
    if (r == 0 && ret_report != NULL) {
        *ret_report = rep;
    } else if (r == EV_EVERIFY && ret_report != NULL) {
        *ret_report = rep;
    }
    generation_close(&prev);
    ev_backup_names_free(names, nnames);
    segs_close(segs, nsegs);
    free(cut.history);
    free(meta_text);
    ev_verifier_free(key);
    int fds[] = {b.logfd, b.segdirfd, b.tmpfd, b.tmpsegfd, bdirfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            (void)close(fds[i]);
        }
    }
    return r;
}

/* ---- restore --------------------------------------------------------------------------- */

/* Copies the file name of from into to (new, synced); adds its size to *bytes. */
static int copy_file_at(int from, int to, const char *name, uint64_t *bytes)
{
    int in = openat(from, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out = -1, r;
    struct stat st;

    if (in < 0) {
        return evi_error(-errno, "cannot open '%s': %s", name, strerror(errno));
    }
    if (fstat(in, &st) < 0) {
        r = -errno;
        goto out;
    }
    out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0) {
        r = evi_error(-errno, "cannot create '%s': %s", name, strerror(errno));
        goto out;
    }
    r = copy_range(in, 0, out, 0, (uint64_t)st.st_size);
    if (r == 0) {
        r = evi_io_fsync(out);
    }
    if (r == 0) {
        *bytes += (uint64_t)st.st_size;
    }
out:
    if (out >= 0 && close(out) < 0 && r == 0) {
        r = -errno;
    }
    (void)close(in);
    return r;
}

/*
 * FORMAT.md §6: rebuilds `hashes` and `index` from the records of dirfd and
 * checks the tree at the checkpoint's size has its root.
 */
static int rebuild_derived(int dirfd, const struct ev_checkpoint *cp, struct ev_restore_report *rep)
{
    struct evi_segment *segs = NULL;
    size_t nsegs = 0;
    struct evi_scanner sc = {0};
    struct evi_frontier frontier;
    struct evi_record record;
    enum evi_record_status status;
    uint8_t *hbuf = NULL, *ibuf = NULL;
    size_t hlen = 0, ilen = 0;
    const size_t flush_at = (size_t)1 << 20;
    uint64_t hoff = 0, ioff = 0, index = 0;
    bool have_root = false;
    int hfd = -1, ifd = -1, r;

    evi_frontier_init(&frontier);
    if (cp->tree_size == 0) {
        evi_frontier_root(&frontier, rep->root);
        have_root = true;
    }
    hfd =
        openat(dirfd, EVI_HASHES_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    ifd = openat(dirfd, EVI_INDEX_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    hbuf = malloc(flush_at + 64 * EV_HASH_BYTES);
    ibuf = malloc(flush_at + 8);
    if (hfd < 0 || ifd < 0) {
        r = evi_error(-errno, "cannot create the derived files: %s", strerror(errno));
        goto out;
    }
    if (hbuf == NULL || ibuf == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = evi_segments_open(dirfd, false, &segs, &nsegs);
    if (r < 0) {
        goto out;
    }
    if (nsegs == 0) {
        r = evi_error(EV_EFORMAT, "the backup holds no segment");
        goto out;
    }
    r = evi_scanner_init(&sc, segs, nsegs, 0, EVI_SEGMENT_HEADER, 0);
    if (r < 0) {
        goto out;
    }
    for (;;) {
        size_t seg = sc.seg;
        uint64_t offset = sc.offset;
        r = evi_scanner_next(&sc, &record, &status);
        if (r < 0) {
            goto out;
        }
        if (r == EVI_SCAN_END || r == EVI_SCAN_DAMAGED) {
            if (index < cp->tree_size) {
                r = evi_error(EV_ETAMPERED,
                              "record %" PRIu64 " is %s but the checkpoint covers %" PRIu64
                              " entries; run 'evident verify' on the backup",
                              index, r == EVI_SCAN_END ? "missing" : "damaged", cp->tree_size);
                goto out;
            }
            r = 0;
            break; /* bytes after the checkpoint that are not whole records stay a torn tail */
        }
        if (sc.seg != seg) {
            offset = EVI_SEGMENT_HEADER;
        }
        struct evi_entry_view view;
        if (record.leaf == NULL &&
            (evi_entry_view(record.entry, record.entry_len, &view) < 0 || view.seq != index)) {
            if (index < cp->tree_size) {
                r = evi_error(EV_ETAMPERED,
                              "record %" PRIu64 " is not entry %" PRIu64
                              "; run 'evident verify' on the backup",
                              index, index);
                goto out;
            }
            break;
        }
        uint8_t leaf[EV_HASH_BYTES], stored[64][EV_HASH_BYTES];
        if (record.leaf != NULL) {
            memcpy(leaf, record.leaf, EV_HASH_BYTES); /* pruned by retention (§3.2) */
        } else {
            ev_leaf_hash(record.entry, record.entry_len, leaf);
        }
        int nstored = evi_frontier_append(&frontier, leaf, stored);
        if (nstored < 0) {
            r = nstored;
            goto out;
        }
        memcpy(hbuf + hlen, stored, (size_t)nstored * EV_HASH_BYTES);
        hlen += (size_t)nstored * EV_HASH_BYTES;
        for (int i = 0; i < 8; i++) {
            ibuf[ilen++] = (uint8_t)(offset >> (8 * i));
        }
        index++;
        if (index == cp->tree_size) {
            evi_frontier_root(&frontier, rep->root);
            have_root = true;
        }
        if (hlen >= flush_at || ilen >= flush_at) {
            if ((r = evi_write_all(hfd, hbuf, hlen, (off_t)hoff)) < 0 ||
                (r = evi_write_all(ifd, ibuf, ilen, (off_t)ioff)) < 0) {
                goto out;
            }
            hoff += hlen;
            ioff += ilen;
            hlen = ilen = 0;
        }
    }
    if ((r = evi_write_all(hfd, hbuf, hlen, (off_t)hoff)) < 0 ||
        (r = evi_write_all(ifd, ibuf, ilen, (off_t)ioff)) < 0 || (r = evi_io_fsync(hfd)) < 0 ||
        (r = evi_io_fsync(ifd)) < 0) {
        goto out;
    }
    rep->bytes += hoff + hlen + ioff + ilen;
    if (!have_root || memcmp(rep->root, cp->root, EV_HASH_BYTES) != 0) {
        r = evi_error(EV_ETAMPERED,
                      "the records do not give the root the checkpoint signed at %" PRIu64
                      " entries; run 'evident verify' on the backup",
                      cp->tree_size);
        goto out;
    }
    rep->records = index;
out:
    evi_scanner_free(&sc);
    evi_segments_close(segs, nsegs);
    free(hbuf);
    free(ibuf);
    if (hfd >= 0) {
        (void)close(hfd);
    }
    if (ifd >= 0) {
        (void)close(ifd);
    }
    return r;
}

/* from is a generation (it has evident.meta) or a backup directory (its latest generation). */
static int resolve_generation(const char *from, char *path, size_t cap, char *ret_name,
                              size_t name_cap)
{
    struct stat st;
    char probe[4096];
    char **names = NULL;
    size_t n = 0;
    int r;

    if (snprintf(probe, sizeof(probe), "%s/%s", from, EVI_META_FILE) >= (int)sizeof(probe)) {
        return -ENAMETOOLONG;
    }
    if (stat(probe, &st) == 0) {
        const char *base = strrchr(from, '/');
        (void)snprintf(ret_name, name_cap, "%s", base != NULL && base[1] != '\0' ? base + 1 : from);
        return snprintf(path, cap, "%s", from) >= (int)cap ? -ENAMETOOLONG : 0;
    }
    r = ev_backup_list(from, &names, &n);
    if (r < 0) {
        return r;
    }
    if (n == 0) {
        ev_backup_names_free(names, n);
        return evi_error(EV_EFORMAT, "'%s' is neither a backup generation nor a backup directory",
                         from);
    }
    (void)snprintf(ret_name, name_cap, "%s", names[n - 1]);
    r = snprintf(path, cap, "%s/%s", from, names[n - 1]) >= (int)cap ? -ENAMETOOLONG : 0;
    ev_backup_names_free(names, n);
    return r;
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int r = 1;

    if (d == NULL) {
        return -errno;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            r = 0;
            break;
        }
    }
    (void)closedir(d);
    return r;
}

int ev_backup_restore(const char *from, const char *new_dir, struct ev_restore_report *ret_report)
{
    struct ev_restore_report rep;
    char gen[4096];
    struct evi_meta meta;
    struct ev_verifier *key = NULL;
    struct ev_checkpoint cp;
    char *note = NULL;
    size_t note_len;
    int src = -1, srcseg = -1, dst = -1, dstseg = -1, r;
    bool made = false;
    DIR *d = NULL;

    evi_error_clear();
    memset(&rep, 0, sizeof(rep));
    r = resolve_generation(from, gen, sizeof(gen), rep.generation, sizeof(rep.generation));
    if (r < 0) {
        goto out;
    }
    src = open(gen, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src < 0) {
        r = evi_error(-errno, "cannot open '%s': %s", gen, strerror(errno));
        goto out;
    }
    if ((r = evi_meta_read(src, &meta)) < 0 || (r = ev_verifier_parse(meta.vkey, &key)) < 0) {
        goto out;
    }
    r = evi_read_file(src, EVI_CHECKPOINT_FILE, EV_NOTE_MAX_BYTES, &note, &note_len);
    if (r < 0) {
        r = evi_error(r, "'%s' has no checkpoint: %s", gen, ev_strerror(r));
        goto out;
    }
    r = ev_checkpoint_open(note, note_len, key, &cp);
    if (r < 0) {
        r = evi_error(r, "the backup's checkpoint does not verify: %s", ev_last_error());
        goto out;
    }
    rep.tree_size = cp.tree_size;
    srcseg = openat(src, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (srcseg < 0) {
        r = evi_error(-errno, "'%s' has no segments/: %s", gen, strerror(errno));
        goto out;
    }

    if (mkdir(new_dir, 0750) == 0) {
        made = true;
    } else if (errno != EEXIST) {
        r = evi_error(-errno, "cannot create '%s': %s", new_dir, strerror(errno));
        goto out;
    } else if ((r = dir_is_empty(new_dir)) <= 0) {
        r = r == 0 ? evi_error(-EEXIST, "'%s' is not empty", new_dir)
                   : evi_error(r, "cannot read '%s': %s", new_dir, strerror(-r));
        goto out;
    }
    dst = open(new_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dst < 0 || mkdirat(dst, EVI_SEGMENTS_DIR, 0750) < 0) {
        r = evi_error(-errno, "cannot create '%s/segments': %s", new_dir, strerror(errno));
        goto out;
    }
    dstseg = openat(dst, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dstseg < 0) {
        r = -errno;
        goto out;
    }
    /* Segments as they are, in whatever form (plain or compressed): the store reads them. */
    int dupfd = dup(srcseg);
    if (dupfd < 0 || (d = fdopendir(dupfd)) == NULL) {
        r = -errno;
        if (dupfd >= 0) {
            (void)close(dupfd);
        }
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t first;
        bool plain;
        if (!parse_segment_file(de->d_name, &first, &plain)) {
            continue;
        }
        r = copy_file_at(srcseg, dstseg, de->d_name, &rep.bytes);
        if (r < 0) {
            goto out;
        }
    }
    if ((r = copy_file_at(src, dst, EVI_CHECKPOINT_FILE, &rep.bytes)) < 0 ||
        (r = copy_file_at(src, dst, EVI_CHECKPOINTS_FILE, &rep.bytes)) < 0 ||
        (r = evi_io_fsync(dstseg)) < 0) {
        goto out;
    }
    r = rebuild_derived(dst, &cp, &rep);
    if (r < 0) {
        goto out;
    }
    /* evident.meta last: its presence says the log directory is complete (as at init). */
    if ((r = copy_file_at(src, dst, EVI_META_FILE, &rep.bytes)) < 0 ||
        (r = evi_io_fsync(dst)) < 0) {
        goto out;
    }
out:
    if (d != NULL) {
        (void)closedir(d);
    }
    int fds[] = {src, srcseg, dst, dstseg};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            (void)close(fds[i]);
        }
    }
    if (r < 0 && made) {
        int saved = r;
        (void)remove_tree(AT_FDCWD, new_dir);
        r = saved;
    }
    if (r == 0 && ret_report != NULL) {
        *ret_report = rep;
    }
    free(note);
    ev_verifier_free(key);
    return r;
}
