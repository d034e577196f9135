/* SPDX-License-Identifier: Apache-2.0 */
/* Syncing records written in place without the segment's inode (see inplace.h). */
#include "inplace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "store.h"

/* The smallest inode ext4 has: a block of the inode table holds at most block size / this. */
#define EXT4_INODE_MIN_BYTES 128u

static bool forced; /* evi_inplace_force_for_tests() */

void evi_inplace_force_for_tests(bool force)
{
    __atomic_store_n(&forced, force, __ATOMIC_SEQ_CST);
}

void evi_inplace_init(struct evi_inplace *p)
{
    memset(p, 0, sizeof(*p));
    p->flush_fd = -1;
}

void evi_inplace_close(struct evi_inplace *p)
{
    if (p->flush_fd >= 0) {
        (void)close(p->flush_fd);
    }
    uint64_t syncs = p->syncs;
    evi_inplace_init(p);
    p->syncs = syncs;
}

int evi_ext4_journal(const char *sysfs, unsigned major, unsigned minor)
{
    char path[PATH_MAX], target[PATH_MAX], text[32];

    /* /sys/dev/block/M:m links to the device's directory, named as in /sys/fs/ext4/. */
    if (snprintf(path, sizeof(path), "%s/dev/block/%u:%u", sysfs, major, minor) >=
        (int)sizeof(path)) {
        return -1;
    }
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0) {
        return -1;
    }
    target[n] = '\0';
    const char *name = strrchr(target, '/');
    name = name != NULL ? name + 1 : target;
    if (*name == '\0' || strcmp(name, "..") == 0 || strcmp(name, ".") == 0 ||
        snprintf(path, sizeof(path), "%s/fs/ext4/%s/journal_task", sysfs, name) >=
            (int)sizeof(path)) {
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, text, sizeof(text) - 1);
    (void)close(fd);
    if (n <= 0) {
        return -1;
    }
    text[n] = '\0';
    /* The journal thread's pid, or this when there is no journal (fs/ext4/sysfs.c). */
    if (strcmp(text, "<none>\n") == 0) {
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long pid = strtoul(text, &end, 10);
    return end != text && *end == '\n' && end[1] == '\0' && errno == 0 && pid > 0 ? 1 : -1;
}

static bool near_any(uint64_t ino, const uint64_t *hot, size_t n, uint64_t spread)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t d = ino > hot[i] ? ino - hot[i] : hot[i] - ino;
        if (d < spread) {
            return true;
        }
    }
    return false;
}

/* The next number of a release string, or false. */
static bool release_number(const char **p, unsigned long *ret)
{
    char *end;
    if (**p < '0' || **p > '9') {
        return false;
    }
    errno = 0;
    *ret = strtoul(*p, &end, 10);
    if (errno != 0 || *ret > 100000) {
        return false;
    }
    *p = end;
    return true;
}

bool evi_inplace_kernel_ok(const char *release)
{
    const char *p = release;
    unsigned long major, minor, patch = 0;
    if (!release_number(&p, &major) || *p++ != '.' || !release_number(&p, &minor)) {
        return false;
    }
    bool have_patch = *p == '.' && (p++, release_number(&p, &patch));
    if (major == 7 && minor == 0 && strncmp(p, "-rc", 3) == 0) {
        return false; /* which release candidate took the fix is not known here */
    }
    /* Linux 7.0, and 6.18.y from well after the fix's backport (March 2026). */
    return major >= 7 || (major == 6 && minor == 18 && have_patch && patch >= 30);
}

static bool gap_forced; /* evi_fsync_gap_force_for_tests() */

void evi_fsync_gap_force_for_tests(bool force)
{
    __atomic_store_n(&gap_forced, force, __ATOMIC_SEQ_CST);
}

bool evi_fsync_gap_in(bool ext4, int journal, const char *release)
{
    return ext4 && journal != 1 && !evi_inplace_kernel_ok(release);
}

/* The gap for the file system of fd (a directory). */
static bool gap_at(int fd)
{
    struct statfs fs;
    struct stat st;
    struct utsname uts;

    if (fstatfs(fd, &fs) < 0 || fs.f_type != EXT4_SUPER_MAGIC || fstat(fd, &st) < 0) {
        return false;
    }
    int journal = evi_ext4_journal("/sys", major(st.st_dev), minor(st.st_dev));
    return evi_fsync_gap_in(true, journal, uname(&uts) == 0 ? uts.release : "");
}

bool evi_fsync_gap(int dirfd)
{
    if (__atomic_load_n(&gap_forced, __ATOMIC_SEQ_CST)) {
        return true;
    }
    bool gap = gap_at(dirfd);
    /* The records' own directory may be on another file system: a mount point. */
    int sfd = openat(dirfd, EVI_SEGMENTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd >= 0) {
        gap = gap || gap_at(sfd);
        (void)close(sfd);
    }
    return gap;
}

void evi_inplace_open(struct evi_inplace *p, int dirfd, const uint64_t *hot, size_t n)
{
    struct statfs fs;
    struct stat log_st;
    struct utsname uts;

    evi_inplace_close(p);
    if (fstatfs(dirfd, &fs) < 0 || fs.f_bsize <= 0 || fstat(dirfd, &log_st) < 0) {
        return;
    }
    if (!__atomic_load_n(&forced, __ATOMIC_SEQ_CST) &&
        (fs.f_type != EXT4_SUPER_MAGIC || uname(&uts) < 0 || !evi_inplace_kernel_ok(uts.release) ||
         evi_ext4_journal("/sys", major(log_st.st_dev), minor(log_st.st_dev)) != 0)) {
        return;
    }
    p->spread = (uint64_t)fs.f_bsize / EXT4_INODE_MIN_BYTES;

    int fd = openat(dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint64_t below = (uint64_t)log_st.st_ino;
    for (int depth = 0; fd >= 0 && depth < EVI_INPLACE_MAX_DEPTH; depth++) {
        struct stat st;
        /* On another file system: the log at the root of its own, or at the root. */
        if (fstat(fd, &st) < 0 || st.st_dev != log_st.st_dev || (uint64_t)st.st_ino == below) {
            break;
        }
        if (!near_any((uint64_t)st.st_ino, hot, n, p->spread)) {
            p->flush_fd = fd;
            p->flush_dev = st.st_dev;
            p->flush_ino = (uint64_t)st.st_ino;
            return;
        }
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        (void)close(fd);
        fd = up;
        below = (uint64_t)st.st_ino;
    }
    if (fd >= 0) {
        (void)close(fd);
    }
}

/* A regular file on the quiet directory's file system, its inode far from the directory's. */
static bool segment_ok(struct evi_inplace *p, uint64_t first, int fd)
{
    if (p->checked != first + 1) {
        struct stat st;
        p->checked = first + 1;
        p->checked_ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == p->flush_dev &&
                        !near_any((uint64_t)st.st_ino, &p->flush_ino, 1, p->spread);
    }
    return p->checked_ok;
}

void evi_inplace_zeros_add(uint64_t *from, uint64_t *to, uint64_t start, uint64_t end)
{
    if (end <= start) {
        return;
    }
    if (*to == 0 || *to != start) {
        *from = start;
    }
    *to = end;
}

void evi_inplace_wrote(struct evi_inplace *p, uint64_t first, uint64_t end)
{
    if (p->written != first + 1) {
        p->written = first + 1;
        p->written_end = 0;
    }
    if (end > p->written_end) {
        p->written_end = end;
    }
}

bool evi_inplace_covers_write(struct evi_inplace *p, uint64_t first, int fd, uint64_t zeros_from,
                              uint64_t zeros_to, uint64_t end)
{
    if (p->written == first + 1 && p->written_end > end) {
        end = p->written_end;
    }
    return p->flush_fd >= 0 && p->synced == first + 1 && zeros_from <= p->synced_end &&
           end <= zeros_to && segment_ok(p, first, fd);
}

bool evi_inplace_covers(struct evi_inplace *p, uint64_t first, int fd, uint64_t zeros_from,
                        uint64_t zeros_to)
{
    return p->written == first + 1 &&
           evi_inplace_covers_write(p, first, fd, zeros_from, zeros_to, p->written_end);
}

void evi_inplace_synced(struct evi_inplace *p, uint64_t first)
{
    p->synced = first + 1;
    p->synced_end = p->written == first + 1 ? p->written_end : 0;
}

int evi_inplace_sync(struct evi_inplace *p, int fd)
{
    int r = evi_io_sync_range(fd);
    if (r == 0) {
        r = evi_io_fdatasync(p->flush_fd);
    }
    if (r == 0) {
        p->syncs++;
    }
    return r;
}
