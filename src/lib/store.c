/* SPDX-License-Identifier: Apache-2.0 */
/* The log directory's files: docs/FORMAT.md §1–§3, §8, §9. */
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

#include <jansson.h>

#include "crypto.h"
#include "entry.h"
#include "error.h"
#include "store.h"
#include "zseg.h"

/* ---- fault injection ---------------------------------------------------- */

static long fail_countdown;
static int fail_errno;
static bool fail_once;

void evi_io_fail_after(long countdown, int err)
{
    __atomic_store_n(&fail_errno, err, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fail_once, false, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fail_countdown, countdown, __ATOMIC_SEQ_CST);
}

void evi_io_fail_once(long countdown, int err)
{
    __atomic_store_n(&fail_errno, err, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fail_once, true, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fail_countdown, countdown, __ATOMIC_SEQ_CST);
}

static void (*write_hook)(int fd);

static void (*sync_hook)(int fd);

void evi_io_set_sync_hook(void (*hook)(int fd))
{
    __atomic_store_n(&sync_hook, hook, __ATOMIC_SEQ_CST);
}

static void run_sync_hook(int fd)
{
    void (*hook)(int fd) = __atomic_load_n(&sync_hook, __ATOMIC_SEQ_CST);
    if (hook != NULL) {
        hook(fd);
    }
}

void evi_io_set_write_hook(void (*hook)(int fd))
{
    __atomic_store_n(&write_hook, hook, __ATOMIC_SEQ_CST);
}

static int injected_failure(void)
{
    long c = __atomic_load_n(&fail_countdown, __ATOMIC_SEQ_CST);
    if (c <= 0) {
        return 0;
    }
    if (c == 1) {
        int err = __atomic_load_n(&fail_errno, __ATOMIC_SEQ_CST);
        if (err == EVI_IO_CRASH) {
            _exit(EVI_IO_CRASH_STATUS); /* a crash just before this step (tests) */
        }
        if (__atomic_load_n(&fail_once, __ATOMIC_SEQ_CST)) {
            __atomic_store_n(&fail_countdown, 0, __ATOMIC_SEQ_CST);
        }
        return -err;
    }
    __atomic_fetch_sub(&fail_countdown, 1, __ATOMIC_SEQ_CST);
    return 0;
}

ssize_t evi_io_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    void (*hook)(int fd) = __atomic_load_n(&write_hook, __ATOMIC_SEQ_CST);
    if (hook != NULL) {
        hook(fd);
    }
    int r = injected_failure();
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return pwrite(fd, buf, len, off);
}

int evi_io_fdatasync(int fd)
{
    int r = injected_failure();
    if (r < 0) {
        return r;
    }
    run_sync_hook(fd);
    return fdatasync(fd) < 0 ? -errno : 0;
}

int evi_io_sync_range(int fd)
{
    int r = injected_failure();
    if (r < 0) {
        return r;
    }
    unsigned flags =
        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
    return sync_file_range(fd, 0, 0, flags) < 0 ? -errno : 0;
}

int evi_io_fsync(int fd)
{
    int r = injected_failure();
    if (r < 0) {
        return r;
    }
    run_sync_hook(fd);
    return fsync(fd) < 0 ? -errno : 0;
}

int evi_write_all(int fd, const void *buf, size_t len, off_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = evi_io_pwrite(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int evi_read_exact(int fd, void *buf, size_t len, off_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

int evi_zero_tail(int fd, uint64_t from, uint64_t end, uint64_t *ret_start)
{
    uint8_t buf[16384];
    uint64_t at = end;

    while (at > from) {
        size_t n = at - from < sizeof(buf) ? (size_t)(at - from) : sizeof(buf);
        int r = evi_read_exact(fd, buf, n, (off_t)(at - n));
        if (r < 0) {
            return r;
        }
        size_t k = n;
        while (k > 0 && buf[k - 1] == 0) {
            k--;
        }
        if (k > 0) {
            at -= n - k;
            break;
        }
        at -= n;
    }
    *ret_start = at;
    return 0;
}

/* ---- small files -------------------------------------------------------- */

int evi_read_file(int dirfd, const char *name, size_t max, char **ret_data, size_t *ret_len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    char *data = NULL;
    int r;

    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        r = evi_error(EV_ETOOBIG, "'%s': not a regular file of at most %zu bytes", name, max);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = evi_read_exact(fd, data, (size_t)st.st_size, 0);
    if (r < 0) {
        goto out;
    }
    data[st.st_size] = '\0';
    *ret_data = data;
    *ret_len = (size_t)st.st_size;
    data = NULL;
out:
    free(data);
    (void)close(fd);
    return r;
}

int evi_replace_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    char tmp[256];
    int fd, r;

    (void)snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
    (void)unlinkat(dirfd, tmp, 0);
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
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
    if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = evi_io_fsync(dirfd);
    }
    if (r < 0) {
        (void)unlinkat(dirfd, tmp, 0);
    }
    return r;
}

/* ---- metadata (§2) ------------------------------------------------------ */

int evi_meta_write(int dirfd, const struct evi_meta *meta)
{
    json_t *o = json_pack("{s:i, s:s, s:I, s:I, s:s}", "format", meta->format, "origin",
                          meta->origin, "seal_interval_ns", (json_int_t)meta->seal_interval_ns,
                          "start_ns", (json_int_t)meta->start_ns, "vkey", meta->vkey);
    char *text;
    int r;

    if (o == NULL) {
        return -ENOMEM;
    }
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (text == NULL) {
        return -ENOMEM;
    }
    size_t len = strlen(text);
    text[len] = '\0';
    char *line = malloc(len + 2);
    if (line == NULL) {
        free(text);
        return -ENOMEM;
    }
    memcpy(line, text, len);
    line[len] = '\n';
    r = evi_replace_file(dirfd, EVI_META_FILE, line, len + 1, 0644);
    free(line);
    free(text);
    return r;
}

int evi_meta_read(int dirfd, struct evi_meta *ret_meta)
{
    char *text = NULL;
    size_t len;
    json_error_t jerr;
    json_t *o = NULL;
    struct evi_meta m = {0};
    const char *origin = NULL, *vkey = NULL;
    json_int_t format = 0, interval = 0, start = 0;
    int r;

    r = evi_read_file(dirfd, EVI_META_FILE, EVI_META_MAX, &text, &len);
    if (r < 0) {
        if (r == -ENOENT) {
            return evi_error(r, "no evident log here (no %s)", EVI_META_FILE);
        }
        return evi_error(r, "cannot read %s: %s", EVI_META_FILE, ev_strerror(r));
    }
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL || json_unpack_ex(o, &jerr, JSON_STRICT, "{s:I, s:s, s:I, s:I, s:s}", "format",
                                    &format, "origin", &origin, "seal_interval_ns", &interval,
                                    "start_ns", &start, "vkey", &vkey) < 0) {
        r = evi_error(EV_EFORMAT, "%s: %s", EVI_META_FILE, jerr.text);
        goto out;
    }
    if (format != 1) {
        r = evi_error(EV_EFORMAT, "%s: format %lld is not supported (this is format 1)",
                      EVI_META_FILE, (long long)format);
        goto out;
    }
    if (strlen(origin) == 0 || strlen(origin) >= sizeof(m.origin) ||
        strlen(vkey) >= sizeof(m.vkey) || interval < (json_int_t)EV_MIN_SEAL_INTERVAL_NS ||
        start < 0) {
        r = evi_error(EV_EFORMAT, "%s: a value is out of range", EVI_META_FILE);
        goto out;
    }
    m.format = 1;
    memcpy(m.origin, origin, strlen(origin) + 1);
    memcpy(m.vkey, vkey, strlen(vkey) + 1);
    m.seal_interval_ns = (uint64_t)interval;
    m.start_ns = (int64_t)start;
    *ret_meta = m;
    r = 0;
out:
    json_decref(o);
    free(text);
    return r;
}

/* ---- segments (§3) ------------------------------------------------------ */

static void segment_name(uint64_t first_index, char out[64])
{
    (void)snprintf(out, 64, EVI_SEGMENTS_DIR "/%020" PRIu64 ".seg", first_index);
}

/* §3.1: NNN.seg.zst, and the temporary .NNN.seg.zst.tmp it is written as. */
static void zsegment_name(uint64_t first_index, char out[64])
{
    (void)snprintf(out, 64, EVI_SEGMENTS_DIR "/%020" PRIu64 ".seg.zst", first_index);
}

static void zsegment_tmp_name(uint64_t first_index, char out[64])
{
    (void)snprintf(out, 64, EVI_SEGMENTS_DIR "/.%020" PRIu64 ".seg.zst.tmp", first_index);
}

/* §3.2: NNN.pruned, and the temporary .NNN.pruned.tmp it is written as. */
static void pruned_name(uint64_t first_index, char out[64])
{
    (void)snprintf(out, 64, EVI_SEGMENTS_DIR "/%020" PRIu64 ".pruned", first_index);
}

static void pruned_tmp_name(uint64_t first_index, char out[64])
{
    (void)snprintf(out, 64, EVI_SEGMENTS_DIR "/.%020" PRIu64 ".pruned.tmp", first_index);
}

static int parse_index(const char *digits, uint64_t *ret)
{
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            return -1;
        }
        if (v > (UINT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t)(digits[i] - '0');
    }
    *ret = v;
    return 0;
}

/* The forms a segment file takes, in the order a listing sorts them. */
enum segment_kind {
    KIND_PLAIN = 0,      /* NNN.seg */
    KIND_COMPRESSED = 1, /* NNN.seg.zst (§3.1) */
    KIND_PRUNED = 2,     /* NNN.pruned (§3.2) */
    KIND_TEMPORARY = 3,  /* a compression's or a pruning's temporary file */
};

/* The kind of a segment file name, or -1 for any other name. */
static int parse_segment_name(const char *name, uint64_t *ret)
{
    size_t n = strlen(name);
    if (n == 24 && strcmp(name + 20, ".seg") == 0) {
        return parse_index(name, ret) < 0 ? -1 : 0;
    }
    if (n == 28 && strcmp(name + 20, ".seg.zst") == 0) {
        return parse_index(name, ret) < 0 ? -1 : 1;
    }
    if (n == 27 && strcmp(name + 20, ".pruned") == 0) {
        return parse_index(name, ret) < 0 ? -1 : KIND_PRUNED;
    }
    if (n == 33 && name[0] == '.' && strcmp(name + 21, ".seg.zst.tmp") == 0) {
        return parse_index(name + 1, ret) < 0 ? -1 : KIND_TEMPORARY;
    }
    if (n == 32 && name[0] == '.' && strcmp(name + 21, ".pruned.tmp") == 0) {
        return parse_index(name + 1, ret) < 0 ? -1 : KIND_TEMPORARY;
    }
    return -1;
}

static int segment_kind(const struct evi_segment *s)
{
    return s->pruned ? KIND_PRUNED : s->compressed ? KIND_COMPRESSED : KIND_PLAIN;
}

static void kind_name(uint64_t first_index, int kind, char out[64])
{
    switch (kind) {
    case KIND_COMPRESSED: zsegment_name(first_index, out); break;
    case KIND_PRUNED: pruned_name(first_index, out); break;
    default: segment_name(first_index, out); break;
    }
}

/* By index, then .seg, .seg.zst, .pruned of the same index. */
static int cmp_segment(const void *a, const void *b)
{
    const struct evi_segment *x = a, *y = b;
    if (x->first_index != y->first_index) {
        return x->first_index < y->first_index ? -1 : 1;
    }
    return segment_kind(x) - segment_kind(y);
}

void evi_segment_release(struct evi_segment *segment)
{
    if (segment->fd >= 0) {
        (void)close(segment->fd);
    }
    segment->fd = -1;
    free(segment->zframes);
    segment->zframes = NULL;
}

void evi_segments_close(struct evi_segment *segments, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        evi_segment_release(&segments[i]);
    }
    free(segments);
}

/* Opens a listed segment; a .seg that a writer just compressed is read as its .zst. */
static int segment_open_one(int dirfd, bool writable, struct evi_segment *seg, char name[64],
                            uint8_t hdr[EVI_SEGMENT_HEADER])
{
    if (seg->pruned) {
        pruned_name(seg->first_index, name);
        seg->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return seg->fd < 0 ? evi_error(-errno, "cannot open '%s': %s", name, strerror(errno)) : 0;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (seg->compressed) {
            zsegment_name(seg->first_index, name);
        } else {
            segment_name(seg->first_index, name);
        }
        seg->fd =
            openat(dirfd, name,
                   (writable && !seg->compressed ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
        if (seg->fd < 0 && errno == ENOENT && !writable && !seg->compressed) {
            /* Pruned since it was listed (§3.2)? Then read the pruned form. */
            char pname[64];
            pruned_name(seg->first_index, pname);
            int pfd = openat(dirfd, pname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (pfd >= 0) {
                seg->fd = pfd;
                seg->pruned = true;
                memcpy(name, pname, 64);
                return 0;
            }
            errno = ENOENT;
        }
        if (seg->fd < 0 && errno == ENOENT && !seg->compressed && !writable) {
            seg->compressed = true; /* the writer unlinked it after compressing it */
            continue;
        }
        if (seg->fd < 0 && errno == ENOENT && seg->compressed && !writable) {
            char pname[64];
            pruned_name(seg->first_index, pname);
            int pfd = openat(dirfd, pname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (pfd >= 0) {
                seg->fd = pfd;
                seg->compressed = false;
                seg->pruned = true;
                memcpy(name, pname, 64);
                return 0;
            }
            errno = ENOENT;
        }
        if (seg->fd < 0) {
            return evi_error(-errno, "cannot open '%s': %s", name, strerror(errno));
        }
        if (!seg->compressed) {
            return 0;
        }
        int r = evi_zseg_load(seg, name + strlen(EVI_SEGMENTS_DIR) + 1, hdr);
        if (r < 0) {
            return r;
        }
        return 1; /* hdr holds the header */
    }
    return evi_error(-ENOENT, "cannot open '%s': %s", name, strerror(ENOENT));
}

int evi_segments_open(int dirfd, bool writable, struct evi_segment **ret_segments,
                      size_t *ret_count)
{
    int sfd = openat(dirfd, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = NULL;
    struct dirent *de;
    struct evi_segment *segs = NULL;
    size_t n = 0, cap = 0;
    int r = 0;

    if (sfd < 0) {
        return evi_error(-errno, "cannot open '%s/': %s", EVI_SEGMENTS_DIR, strerror(errno));
    }
    d = fdopendir(sfd);
    if (d == NULL) {
        r = -errno;
        (void)close(sfd);
        return r;
    }
    while ((de = readdir(d)) != NULL) {
        uint64_t first;
        int kind = parse_segment_name(de->d_name, &first);
        if (kind < 0) {
            continue;
        }
        if (kind == KIND_TEMPORARY) {
            /* A compression or pruning that did not finish (§3.1, §3.2): the writer cleans up. */
            if (writable && unlinkat(sfd, de->d_name, 0) < 0 && errno != ENOENT) {
                r = evi_error(-errno, "cannot remove '%s': %s", de->d_name, strerror(errno));
                goto out;
            }
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct evi_segment *ns = realloc(segs, ncap * sizeof(*ns));
            if (ns == NULL) {
                r = -ENOMEM;
                goto out;
            }
            segs = ns;
            cap = ncap;
        }
        segs[n] = (struct evi_segment){.first_index = first,
                                       .fd = -1,
                                       .compressed = kind == KIND_COMPRESSED,
                                       .pruned = kind == KIND_PRUNED};
        n++;
    }
    if (n > 0) {
        qsort(segs, n, sizeof(*segs), cmp_segment);
    }
    /*
     * Several forms of one segment: the whole one wins, the .seg before the
     * .zst (§3.1: the .zst is redone) and either before a .pruned (§3.2: the
     * pruning is redone by the next pass under a retention entry of its own;
     * a pruned form is never trusted over the bytes it stands for). The
     * writer removes the losers.
     */
    size_t kept = 0;
    for (size_t i = 0; i < n;) {
        size_t end = i + 1;
        while (end < n && segs[end].first_index == segs[i].first_index) {
            end++;
        }
        size_t win = i; /* sorted: .seg, .seg.zst, .pruned */
        for (size_t k = i; k < end; k++) {
            char name[64];
            if (k == win) {
                continue;
            }
            kind_name(segs[k].first_index, segment_kind(&segs[k]), name);
            if (writable && unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
                r = evi_error(-errno, "cannot remove '%s': %s", name, strerror(errno));
                goto out;
            }
        }
        segs[kept++] = segs[win];
        i = end;
    }
    if (writable && kept < n && (r = evi_io_fsync(sfd)) < 0) {
        n = kept;
        goto out;
    }
    n = kept;
    for (size_t i = 0; i < n; i++) {
        char name[64];
        uint8_t hdr[EVI_SEGMENT_HEADER];
        struct evi_segment_header h;
        struct stat st;

        r = segment_open_one(dirfd, writable, &segs[i], name, hdr);
        if (r < 0) {
            goto out;
        }
        bool have_header = r == 1;
        if (!segs[i].compressed) { /* plain or pruned: the file's own size */
            if (fstat(segs[i].fd, &st) < 0) {
                r = -errno;
                goto out;
            }
            segs[i].bytes = (uint64_t)st.st_size;
        }
        if (i + 1 == n && !segs[i].compressed && !segs[i].pruned &&
            segs[i].bytes < EVI_SEGMENT_HEADER) {
            /*
             * A crash while a new segment was being created (FORMAT.md §3): its
             * header never became whole, so no record can be in it. Readers pass
             * over it; the writer removes it.
             */
            (void)close(segs[i].fd);
            segs[i].fd = -1;
            if (writable && unlinkat(dirfd, name, 0) < 0) {
                r = -errno;
                goto out;
            }
            n--;
            break;
        }
        if (!have_header) {
            r = evi_read_exact(segs[i].fd, hdr, sizeof(hdr), 0);
            if (r < 0) {
                r = evi_error(EV_EFORMAT, "'%s': segment header incomplete", name);
                goto out;
            }
        }
        r = evi_segment_header_decode(hdr, &h);
        if (r < 0) {
            r = evi_error(r, "'%s': %s", name, ev_last_error());
            goto out;
        }
        if (h.pruned != segs[i].pruned) {
            r = evi_error(EV_EFORMAT, "'%s': header is that of a %s segment", name,
                          h.pruned ? "pruned" : "whole");
            goto out;
        }
        if (h.first_index != segs[i].first_index) {
            r = evi_error(EV_EFORMAT, "'%s': header says first index %" PRIu64, name,
                          h.first_index);
            goto out;
        }
        segs[i].created_ns = h.created_ns;
    }
    *ret_segments = segs;
    *ret_count = n;
    segs = NULL;
    n = 0;
    r = 0;
out:
    if (segs != NULL) {
        evi_segments_close(segs, n);
    }
    (void)closedir(d);
    return r;
}

int evi_segment_open_direct(int dirfd, uint64_t first_index, int *ret_fd)
{
    char name[64];
    segment_name(first_index, name);
    int fd = openat(dirfd, name, O_WRONLY | O_DIRECT | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -errno;
    }
    *ret_fd = fd;
    return 0;
}

int evi_segment_create(int dirfd, uint64_t first_index, struct evi_segment *ret_segment)
{
    char name[64];
    uint8_t hdr[EVI_SEGMENT_HEADER];
    struct evi_segment_header h = {.first_index = first_index, .created_ns = evi_now_ns()};
    int fd, r, sfd;

    segment_name(first_index, name);
    fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return evi_error(-errno, "cannot create '%s': %s", name, strerror(errno));
    }
    evi_segment_header_encode(&h, hdr);
    r = evi_write_all(fd, hdr, sizeof(hdr), 0);
    if (r == 0) {
        r = evi_io_fdatasync(fd);
    }
    if (r == 0) {
        sfd = openat(dirfd, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0) {
            r = -errno;
        } else {
            r = evi_io_fsync(sfd);
            (void)close(sfd);
        }
    }
    if (r < 0) {
        (void)close(fd);
        (void)unlinkat(dirfd, name, 0);
        return evi_error(r, "cannot write segment '%s': %s", name, strerror(-r));
    }
    *ret_segment = (struct evi_segment){
        .first_index = first_index,
        .created_ns = h.created_ns,
        .bytes = EVI_SEGMENT_HEADER,
        .fd = fd,
    };
    return 0;
}

int evi_segment_remove(int dirfd, uint64_t first_index)
{
    char name[64], zname[64];
    segment_name(first_index, name);
    zsegment_name(first_index, zname);
    int r = unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
    int z = unlinkat(dirfd, zname, 0) < 0 ? -errno : 0;
    if (r == -ENOENT && z == 0) {
        r = 0;
    }
    return r;
}

static int sync_segments_dir(int dirfd)
{
    int sfd = openat(dirfd, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0) {
        return -errno;
    }
    int r = evi_io_fsync(sfd);
    (void)close(sfd);
    return r;
}

/* Reads the .zst back (through the same reader everyone uses) and compares with the .seg. */
static int compare_compressed(const struct evi_segment *plain, const struct evi_segment *z)
{
    struct evi_zcache *cache = NULL;
    uint8_t *a = malloc(EVI_ZSEG_CHUNK), *b = malloc(EVI_ZSEG_CHUNK);
    int r = 0;

    if (a == NULL || b == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if (z->bytes != plain->bytes) {
        r = evi_error(-EIO, "compressed segment has %" PRIu64 " bytes, expected %" PRIu64, z->bytes,
                      plain->bytes);
        goto out;
    }
    for (uint64_t off = 0; off < plain->bytes && r == 0; off += EVI_ZSEG_CHUNK) {
        size_t n =
            plain->bytes - off < EVI_ZSEG_CHUNK ? (size_t)(plain->bytes - off) : EVI_ZSEG_CHUNK;
        r = evi_read_exact(plain->fd, a, n, (off_t)off);
        if (r == 0) {
            r = evi_segment_read_exact(&cache, 1, z, b, n, off);
        }
        if (r == 0 && memcmp(a, b, n) != 0) {
            r = evi_error(-EIO, "compressed segment differs from the original at byte %" PRIu64,
                          off);
        }
    }
out:
    evi_zcache_free(cache);
    free(a);
    free(b);
    return r;
}

int evi_segment_compress(int dirfd, const struct evi_segment *plain, int level, const bool *stop,
                         struct evi_segment *ret_compressed)
{
    char name[64], zname[64], tmp[64];
    struct evi_segment z = {.first_index = plain->first_index, .fd = -1};
    uint8_t hdr[EVI_SEGMENT_HEADER];
    bool renamed = false;
    int fd, r;

    segment_name(plain->first_index, name);
    zsegment_name(plain->first_index, zname);
    zsegment_tmp_name(plain->first_index, tmp);
    (void)unlinkat(dirfd, tmp, 0);
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return evi_error(-errno, "cannot create '%s': %s", tmp, strerror(errno));
    }
    /* §3.1, in this order: the .seg stays the source of truth until the .zst is durable. */
    r = evi_zseg_compress(plain->fd, plain->bytes, fd, level, stop, NULL);
    if (r == 0) {
        r = evi_io_fsync(fd);
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r == 0) {
        z.fd = openat(dirfd, tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        r = z.fd < 0 ? -errno : evi_zseg_load(&z, tmp, hdr);
    }
    if (r == 0) {
        r = compare_compressed(plain, &z);
    }
    if (r == 0 && stop != NULL && __atomic_load_n(stop, __ATOMIC_RELAXED)) {
        r = -ECANCELED;
    }
    if (r == 0) {
        r = renameat(dirfd, tmp, dirfd, zname) < 0 ? -errno : 0;
        renamed = r == 0;
    }
    if (r == 0) {
        r = sync_segments_dir(dirfd);
    }
    /*
     * ENOENT: an earlier attempt removed the .seg and then failed to sync the
     * directory; the .zst just renamed over its .zst is the same bytes.
     */
    if (r == 0 && unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
        r = -errno;
    }
    if (r == 0) {
        r = sync_segments_dir(dirfd);
    }
    if (r < 0) {
        if (!renamed) {
            (void)unlinkat(dirfd, tmp, 0);
        }
        /* Renamed but the .seg not (durably) gone: both exist, and the .seg wins. */
        evi_segment_release(&z);
        if (r != -ECANCELED) {
            r = evi_error(r, "cannot compress segment '%s': %s", name, strerror(-r));
        }
        return r;
    }
    z.created_ns = plain->created_ns;
    *ret_compressed = z;
    return 0;
}

/* ---- pruning (§3.2) ----------------------------------------------------- */

void evi_segment_file_name(const struct evi_segment *segment, char out[64])
{
    char full[64];
    kind_name(segment->first_index, segment_kind(segment), full);
    memcpy(out, full + strlen(EVI_SEGMENTS_DIR) + 1, 64 - strlen(EVI_SEGMENTS_DIR) - 1);
}

int evi_pruned_write(int dirfd, uint64_t first_index, const void *body, size_t len)
{
    char tmp[64];
    int fd, r;

    pruned_tmp_name(first_index, tmp);
    (void)unlinkat(dirfd, tmp, 0);
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return evi_error(-errno, "cannot create '%s': %s", tmp, strerror(errno));
    }
    r = evi_write_all(fd, body, len, 0);
    if (r == 0) {
        r = evi_io_fsync(fd);
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r < 0) {
        (void)unlinkat(dirfd, tmp, 0);
        return evi_error(r, "cannot write '%s': %s", tmp, strerror(-r));
    }
    return 0;
}

int evi_pruned_commit(int dirfd, uint64_t first_index)
{
    char name[64], zname[64], pname[64], tmp[64];
    int r;

    segment_name(first_index, name);
    zsegment_name(first_index, zname);
    pruned_name(first_index, pname);
    pruned_tmp_name(first_index, tmp);
    r = renameat(dirfd, tmp, dirfd, pname) < 0 ? -errno : 0;
    if (r == 0) {
        r = sync_segments_dir(dirfd);
    }
    if (r == 0 && unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
        r = -errno;
    }
    if (r == 0 && unlinkat(dirfd, zname, 0) < 0 && errno != ENOENT) {
        r = -errno;
    }
    if (r == 0) {
        r = sync_segments_dir(dirfd);
    }
    if (r < 0) {
        return evi_error(r, "cannot put '%s' in place: %s", pname, strerror(-r));
    }
    return 0;
}

void evi_pruned_discard(int dirfd, uint64_t first_index)
{
    char tmp[64];
    pruned_tmp_name(first_index, tmp);
    (void)unlinkat(dirfd, tmp, 0);
}

int evi_pruned_open(int dirfd, uint64_t first_index, struct evi_segment *ret_segment)
{
    char name[64];
    uint8_t hdr[EVI_SEGMENT_HEADER];
    struct evi_segment_header h;
    struct stat st;
    int fd, r;

    pruned_name(first_index, name);
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return evi_error(-errno, "cannot open '%s': %s", name, strerror(errno));
    }
    r = fstat(fd, &st) < 0 ? -errno : evi_read_exact(fd, hdr, sizeof(hdr), 0);
    if (r == 0) {
        r = evi_segment_header_decode(hdr, &h);
        if (r == 0 && (!h.pruned || h.first_index != first_index)) {
            r = evi_error(EV_EFORMAT, "'%s': not the pruned form of segment %" PRIu64, name,
                          first_index);
        }
    }
    if (r < 0) {
        (void)close(fd);
        return r;
    }
    *ret_segment = (struct evi_segment){.first_index = first_index,
                                        .created_ns = h.created_ns,
                                        .bytes = (uint64_t)st.st_size,
                                        .fd = fd,
                                        .pruned = true};
    return 0;
}

/* ---- lock (§9) ---------------------------------------------------------- */

int evi_lock_acquire(int dirfd, int timeout_ms, int *ret_fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int fd = openat(dirfd, EVI_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    int waited = 0;
    char pid[32];

    if (fd < 0) {
        return evi_error(-errno, "cannot open lock file: %s", strerror(errno));
    }
    for (;;) {
        if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
            break;
        }
        if (errno != EAGAIN && errno != EACCES) {
            int r = -errno;
            (void)close(fd);
            return evi_error(r, "cannot lock: %s", strerror(-r));
        }
        if (timeout_ms < 0 || waited >= timeout_ms) {
            char holder[32] = "?";
            ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
            holder[n > 0 ? n : 1] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
            (void)close(fd);
            return evi_error(EV_ELOCKED, "the writer lock is held by pid %s", holder);
        }
        struct timespec ts = {0, 10 * 1000000};
        (void)nanosleep(&ts, NULL);
        waited += 10;
    }
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || evi_write_all(fd, pid, (size_t)n, 0) < 0) {
        int r = -errno;
        (void)close(fd);
        return evi_error(r ? r : -EIO, "cannot write lock file");
    }
    *ret_fd = fd;
    return 0;
}

/* ---- checkpoint history (§8) -------------------------------------------- */

int evi_checkpoint_history_append(int dirfd, const char *note, size_t len)
{
    int fd = openat(dirfd, EVI_CHECKPOINTS_FILE,
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    uint8_t hdr[8];
    struct stat st;
    int r;

    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    uint32_t crc = evi_crc32c(0, note, len);
    for (int i = 0; i < 4; i++) {
        hdr[i] = (uint8_t)(len >> (8 * i));
        hdr[4 + i] = (uint8_t)(crc >> (8 * i));
    }
    r = evi_write_all(fd, hdr, sizeof(hdr), st.st_size);
    if (r == 0) {
        r = evi_write_all(fd, note, len, st.st_size + 8);
    }
    if (r == 0) {
        r = evi_io_fdatasync(fd);
    }
    if (r < 0) {
        /* Leave no half frame behind: the history stays a list of whole notes. */
        (void)ftruncate(fd, st.st_size);
    }
out:
    (void)close(fd);
    return r;
}

static int history_read(int dirfd, int (*visit)(void *ctx, const char *note, size_t len), void *ctx,
                        uint64_t *ret_end);

static int no_visit(void *ctx, const char *note, size_t len)
{
    return 0;
}

static int evi_checkpoint_history_read_end(int dirfd, uint64_t *ret_end)
{
    return history_read(dirfd, no_visit, NULL, ret_end);
}

int evi_checkpoint_history_read(int dirfd, int (*visit)(void *ctx, const char *note, size_t len),
                                void *ctx)
{
    return history_read(dirfd, visit, ctx, NULL);
}

static int history_read(int dirfd, int (*visit)(void *ctx, const char *note, size_t len), void *ctx,
                        uint64_t *ret_end)
{
    char *data = NULL;
    size_t len, pos = 0;
    int r = evi_read_file(dirfd, EVI_CHECKPOINTS_FILE, (size_t)1 << 30, &data, &len);

    if (r == -ENOENT) {
        return 0;
    }
    if (r < 0) {
        return r;
    }
    while (pos < len) {
        const uint8_t *h = (const uint8_t *)data + pos;
        if (len - pos < 8) {
            break; /* a torn last frame: a crash while appending (§8), not damage */
        }
        uint32_t n =
            (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        uint32_t crc =
            (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
        if (n > len - pos - 8) {
            break; /* likewise */
        }
        if (evi_crc32c(0, h + 8, n) != crc) {
            r = evi_error(EV_ECORRUPT, "checkpoints: damaged frame at byte %zu", pos);
            break;
        }
        r = visit(ctx, data + pos + 8, n);
        if (r != 0) {
            break;
        }
        pos += 8 + (size_t)n;
    }
    if (r == 0 && ret_end != NULL) {
        *ret_end = pos;
    }
    free(data);
    return r;
}

int evi_checkpoint_history_repair(int dirfd)
{
    uint64_t end = 0;
    struct stat st;
    int r = evi_checkpoint_history_read_end(dirfd, &end);

    if (r < 0) {
        return r == -ENOENT ? 0 : r;
    }
    if (fstatat(dirfd, EVI_CHECKPOINTS_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    if ((uint64_t)st.st_size == end) {
        return 0;
    }
    /* Cut the torn frame so that the next one is appended on a frame boundary. */
    int fd = openat(dirfd, EVI_CHECKPOINTS_FILE, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -errno;
    }
    r = ftruncate(fd, (off_t)end) < 0 ? -errno : evi_io_fsync(fd);
    (void)close(fd);
    return r;
}

/* ---- scanner ------------------------------------------------------------ */

#define SCAN_CHUNK (1u << 20)

int evi_scanner_init(struct evi_scanner *s, const struct evi_segment *segments, size_t count,
                     size_t seg, uint64_t offset, uint64_t index)
{
    memset(s, 0, sizeof(*s));
    s->segments = segments;
    s->segment_count = count;
    s->seg = seg;
    s->offset = offset;
    s->index = index;
    s->buf = malloc(SCAN_CHUNK + EVI_RECORD_MAX);
    return s->buf != NULL ? 0 : -ENOMEM;
}

void evi_scanner_free(struct evi_scanner *s)
{
    free(s->buf);
    s->buf = NULL;
    evi_zcache_free(s->zcache);
    s->zcache = NULL;
}

/* Makes at least want bytes from s->offset available in the buffer, if the file has them. */
static int scanner_fill(struct evi_scanner *s, size_t want)
{
    const struct evi_segment *g = &s->segments[s->seg];
    if (s->buf_len > 0 && s->offset >= s->buf_file_off &&
        (s->offset + want <= s->buf_file_off + s->buf_len ||
         (s->buf_eof && s->offset <= s->buf_file_off + s->buf_len))) {
        s->buf_pos = (size_t)(s->offset - s->buf_file_off);
        return 0;
    }
    size_t cap = SCAN_CHUNK + EVI_RECORD_MAX;
    size_t n = 0;
    int r = evi_segment_pread(&s->zcache, EVI_ZCACHE_SCAN_SLOTS, g, s->buf, cap, s->offset, &n);
    if (r < 0) {
        return r;
    }
    s->buf_file_off = s->offset;
    s->buf_len = n;
    s->buf_eof = n < cap;
    s->buf_pos = 0;
    return 0;
}

/* The next entry of the pruned run being handed out; the run's offset is passed at its end. */
static int scanner_run_next(struct evi_scanner *s, struct evi_record *ret_record)
{
    *ret_record = s->run;
    ret_record->leaf = s->run.leaf + 32 * (size_t)s->run_next;
    ret_record->run_count = 1;
    ret_record->size = 0;
    if (++s->run_next == s->run.run_count) {
        ret_record->size = s->run.size;
        s->offset += s->run.size;
        s->run_next = 0;
        s->run.run_count = 0;
    }
    s->index++;
    return EVI_SCAN_RECORD;
}

int evi_scanner_next(struct evi_scanner *s, struct evi_record *ret_record,
                     enum evi_record_status *ret_status)
{
    if (s->run.run_count > 0) {
        /* The buffer holds the whole run until its end (the offset did not move). */
        return scanner_run_next(s, ret_record);
    }
    for (;;) {
        if (s->seg >= s->segment_count) {
            return EVI_SCAN_END;
        }
        int r = scanner_fill(s, EVI_RECORD_MAX);
        if (r < 0) {
            return r;
        }
        size_t avail = s->buf_len - s->buf_pos;
        if (avail == 0) {
            /* Clean end of this segment: go on with the next one, if any. */
            if (s->seg + 1 >= s->segment_count) {
                return EVI_SCAN_END;
            }
            s->seg++;
            s->offset = EVI_SEGMENT_HEADER;
            s->buf_len = 0;
            continue;
        }
        enum evi_record_status st = evi_record_decode_any(
            s->buf + s->buf_pos, avail, s->segments[s->seg].pruned, ret_record, NULL);
        if (st != EVI_RECORD_OK) {
            *ret_status = st;
            return EVI_SCAN_DAMAGED;
        }
        if (ret_record->run_count > 0) {
            s->run = *ret_record;
            s->run_next = 0;
            return scanner_run_next(s, ret_record);
        }
        s->offset += ret_record->size;
        s->index++;
        return EVI_SCAN_RECORD;
    }
}

int evi_mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        return -ENAMETOOLONG;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST) {
                return -errno;
            }
            buf[i] = saved;
        }
    }
    return 0;
}
