/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Records written around the page cache (src/lib/direct.h): whatever the
 * sizes and offsets, the file holds exactly the bytes written and nothing
 * past them; large writes leave no page cached where the file system has
 * O_DIRECT; a refusal turns the handle back to the page cache with the same
 * bytes, and a disk error is the write's error. Zeros preallocated ahead of
 * records (src/lib/prealloc.h) land where asked, around the cache too, and a
 * fill that runs out of space gives its space back. A commit over zeros
 * that preallocation wrote goes whole around the cache, its last block
 * ending in zeros, from its own buffer when that starts on a block.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>

#include "testutil.h"

#include "direct.h"
#include "prealloc.h"
#include "record.h"
#include "store.h"

struct fx {
    char root[PATH_MAX];
    int dirfd;
    struct evi_segment seg;
    struct evi_direct d;
    uint8_t *want; /* what the file should hold */
    size_t want_len, want_cap;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char path[PATH_MAX];
    assert_non_null(f);
    tu_tmpdir(f->root);
    assert_int_equal(mkdir(tu_path(path, f->root, EVI_SEGMENTS_DIR), 0755), 0);
    f->dirfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->dirfd >= 0);
    tu_ok(evi_segment_create(f->dirfd, 0, &f->seg));
    f->want_cap = 16u << 20;
    f->want = malloc(f->want_cap);
    assert_non_null(f->want);
    assert_int_equal(evi_read_exact(f->seg.fd, f->want, EVI_SEGMENT_HEADER, 0), 0);
    f->want_len = EVI_SEGMENT_HEADER;
    evi_direct_init(&f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    evi_io_fail_after(0, 0);
    evi_direct_close(&f->d);
    evi_segment_release(&f->seg);
    (void)close(f->dirfd);
    tu_rm_rf(f->root);
    free(f->want);
    free(f);
    return 0;
}

static bool on_tmpfs(int fd)
{
    struct statfs fs;
    assert_int_equal(fstatfs(fd, &fs), 0);
    return fs.f_type == TMPFS_MAGIC;
}

/* File systems known to have O_DIRECT: there, the direct path must be taken. */
static bool must_go_direct(int fd)
{
    struct statfs fs;
    assert_int_equal(fstatfs(fd, &fs), 0);
    return fs.f_type == EXT4_SUPER_MAGIC || fs.f_type == XFS_SUPER_MAGIC ||
           fs.f_type == BTRFS_SUPER_MAGIC;
}

/* n bytes that differ from offset to offset, so a misplaced block shows. */
static void fill(uint8_t *p, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (off + i) * UINT64_C(0x9E3779B97F4A7C15);
        p[i] = (uint8_t)(x >> 56);
    }
}

/* Pages of the file in the page cache, from off to the end, or to `to`. */
static long cached_range(int fd, uint64_t off, uint64_t to);

static long cached_pages(int fd, uint64_t off)
{
    return cached_range(fd, off, UINT64_MAX);
}

static long cached_range(int fd, uint64_t off, uint64_t to)
{
    struct stat st;
    long page = sysconf(_SC_PAGESIZE);
    assert_int_equal(fstat(fd, &st), 0);
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    size_t pages = (len + (size_t)page - 1) / (size_t)page;
    unsigned char *vec = calloc(pages, 1);
    assert_non_null(vec);
    assert_int_equal(mincore(map, len, vec), 0);
    long n = 0;
    if (to / (uint64_t)page < pages) {
        pages = (size_t)((to + (uint64_t)page - 1) / (uint64_t)page);
    }
    for (size_t i = (size_t)(off / (uint64_t)page); i < pages; i++) {
        n += vec[i] & 1;
    }
    free(vec);
    munmap(map, len);
    return n;
}

/*
 * Appends n bytes at the end through evi_direct_write and checks the whole
 * file. Returns how many of its pages were cached just after the write
 * (before the check reads them all), or -1 on tmpfs.
 */
static long append_from(struct fx *f, size_t n, bool aligned)
{
    assert_true(f->want_len + n <= f->want_cap);
    uint64_t off = f->want_len;
    void *mem = NULL;
    if (aligned) {
        assert_int_equal(posix_memalign(&mem, EVI_DIRECT_MAX_ALIGN, n), 0);
    } else {
        mem = malloc(n + 1);
        assert_non_null(mem);
        mem = (uint8_t *)mem + 1; /* never aligned, whatever malloc returns */
    }
    uint8_t *data = mem;
    fill(data, n, off);
    tu_ok(evi_direct_write(&f->d, f->dirfd, f->seg.first_index, f->seg.fd, data, n, off));
    memcpy(f->want + off, data, n);
    f->want_len += n;
    free(aligned ? data : data - 1);
    long cached = on_tmpfs(f->seg.fd) ? -1 : cached_pages(f->seg.fd, 0);

    struct stat st;
    assert_int_equal(fstat(f->seg.fd, &st), 0);
    assert_int_equal((uint64_t)st.st_size, f->want_len); /* nothing past the last byte */
    uint8_t *got = malloc(f->want_len);
    assert_non_null(got);
    assert_int_equal(evi_read_exact(f->seg.fd, got, f->want_len, 0), 0);
    assert_memory_equal(got, f->want, f->want_len);
    free(got);
    return cached;
}

static long append(struct fx *f, size_t n)
{
    return append_from(f, n, false);
}

/* Odd sizes at odd offsets, small and large, across the staging buffer's size. */
static void test_bytes_exact(void **state)
{
    struct fx *f = *state;
    const size_t sizes[] = {
        1,
        EVI_DIRECT_MIN_BYTES - 1,
        EVI_DIRECT_MIN_BYTES,
        777,
        EVI_DIRECT_MIN_BYTES + 4095,
        EVI_DIRECT_CHUNK,
        EVI_DIRECT_CHUNK + 1,
        3 * EVI_DIRECT_CHUNK + 12345,
        4096 - 1,
        2 * EVI_DIRECT_CHUNK,
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        append(f, sizes[i]);
    }
    if (f->d.unusable) {
        assert_int_equal(f->d.written, 0);
        assert_false(must_go_direct(f->seg.fd));
        skip();
    }
    assert_true(f->d.written > 0);
    assert_int_equal(f->d.written % f->d.align, 0);
}

/*
 * On a block boundary from an aligned buffer: straight from it, nothing
 * staged; otherwise every direct byte is staged. The file is exact either way.
 */
static void test_in_place(void **state)
{
    struct fx *f = *state;
    append(f, EVI_DIRECT_MIN_BYTES + 4096 - EVI_SEGMENT_HEADER - 100); /* ends 100 short */
    if (f->d.unusable) {
        skip();
    }
    assert_int_equal(f->d.staged, f->d.written); /* an unaligned buffer */
    append(f, 100); /* small: through the page cache, to the block boundary */
    assert_int_equal(f->want_len % f->d.align, 0);
    uint64_t written = f->d.written, staged = f->d.staged;
    append_from(f, 3 * EVI_DIRECT_CHUNK + 777, true);
    assert_int_equal(f->d.staged, staged);
    assert_int_equal(f->d.written - written, 3 * EVI_DIRECT_CHUNK);
    append_from(f, EVI_DIRECT_MIN_BYTES, true); /* aligned memory, unaligned offset: staged */
    assert_true(f->d.staged > staged);
}

/* A large write leaves at most its last, partial page in the page cache. */
static void test_not_cached(void **state)
{
    struct fx *f = *state;
    long head = append(f, 100);
    assert_true(head == 1 || head == -1); /* a head in the cache, or tmpfs */
    long cached = append(f, 2 * EVI_DIRECT_CHUNK + 100);
    if (f->d.unusable || cached < 0) {
        skip(); /* no O_DIRECT, or tmpfs, which is all page cache */
    }
    assert_true(f->d.written > 0);
    assert_int_equal(cached, 1); /* the tail; the head's page went with the direct write */
}

/* The next segment gets its own descriptor, even under the old one's number. */
static void test_next_segment(void **state)
{
    struct fx *f = *state;
    append(f, EVI_DIRECT_MIN_BYTES + 10);
    if (f->d.unusable) {
        skip();
    }
    int old_dfd = f->d.fd, old_fd = f->seg.fd;
    evi_segment_release(&f->seg);
    tu_ok(evi_segment_create(f->dirfd, 1000, &f->seg));
    assert_int_equal(f->seg.fd, old_fd); /* the lowest free number again */
    assert_int_equal(evi_read_exact(f->seg.fd, f->want, EVI_SEGMENT_HEADER, 0), 0);
    f->want_len = EVI_SEGMENT_HEADER;
    append(f, EVI_DIRECT_MIN_BYTES + 20);
    assert_int_equal(f->d.first, 1000);
    assert_int_equal(f->d.for_fd, f->seg.fd);
    (void)old_dfd; /* closed, then maybe reused: what counts is the file written */

    char path[PATH_MAX];
    tu_path(path, f->root, EVI_SEGMENTS_DIR "/00000000000000000000.seg");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, EVI_SEGMENT_HEADER + EVI_DIRECT_MIN_BYTES + 10);
}

/* A refused direct write: the same bytes through the page cache, for good. */
static void test_refused_falls_back(void **state)
{
    struct fx *f = *state;
    append(f, EVI_DIRECT_MIN_BYTES + 1000);
    if (f->d.unusable) {
        skip();
    }
    uint64_t written = f->d.written;
    assert_true(written > 0);
    evi_io_fail_once(1, EINVAL); /* the first write is the direct one */
    append(f, 2 * EVI_DIRECT_CHUNK + 3);
    assert_true(f->d.unusable);
    assert_int_equal(f->d.written, written);
    assert_int_equal(f->d.fd, -1);
    append(f, EVI_DIRECT_CHUNK + 5); /* and from then on */
    assert_int_equal(f->d.written, written);
}

/* A disk error is the write's error; the handle keeps going direct. */
static void test_disk_error(void **state)
{
    struct fx *f = *state;
    append(f, 10);
    uint8_t *data = calloc(1, EVI_DIRECT_CHUNK);
    assert_non_null(data);
    evi_io_fail_after(1, EIO);
    assert_int_equal(
        evi_direct_write(&f->d, f->dirfd, 0, f->seg.fd, data, EVI_DIRECT_CHUNK, f->want_len), -EIO);
    evi_io_fail_after(1, ENOSPC);
    assert_int_equal(evi_direct_write(&f->d, f->dirfd, 0, f->seg.fd, data, 100, f->want_len),
                     -ENOSPC); /* small: through the page cache, the same error */
    evi_io_fail_after(0, 0);
    free(data);
    bool unusable = f->d.unusable;
    /* The file may hold some of those bytes; a log would fail and recover. Write them again. */
    append(f, EVI_DIRECT_CHUNK);
    assert_true(f->d.unusable == unusable);
    if (!unusable) {
        assert_true(f->d.written > 0);
    }
}

/* ---- over zeros (evi_direct_write_zeros) ---------------------------------- */

#define ZEROS_TO (4u << 20)

/* Zeros through the page cache from the records' end to ZEROS_TO, synced: a fill's. */
static void zeros_ahead(struct fx *f)
{
    uint8_t *zero = calloc(1, ZEROS_TO);
    assert_non_null(zero);
    tu_ok(evi_write_all(f->seg.fd, zero, ZEROS_TO - f->want_len, (off_t)f->want_len));
    assert_int_equal(fdatasync(f->seg.fd), 0);
    (void)posix_fadvise(f->seg.fd, 0, 0, POSIX_FADV_DONTNEED); /* a fill's are not cached */
    memset(f->want + f->want_len, 0, ZEROS_TO - f->want_len);
    free(zero);
}

/* The whole file: the records, then zeros to ZEROS_TO, and not a byte more. */
static void check_file(struct fx *f)
{
    struct stat st;
    assert_int_equal(fstat(f->seg.fd, &st), 0);
    assert_int_equal(st.st_size, ZEROS_TO);
    uint8_t *got = malloc(ZEROS_TO);
    assert_non_null(got);
    assert_int_equal(evi_read_exact(f->seg.fd, got, ZEROS_TO, 0), 0);
    assert_memory_equal(got, f->want, ZEROS_TO);
    free(got);
}

/*
 * n bytes at the records' end over the zeros: evi_direct_write_zeros's
 * return. aligned: from a buffer that starts at off's block, with the
 * block's earlier bytes in front (as log.c's carry_lead() leaves it) and room
 * for the zeros; else from an unaligned buffer with no room to spare.
 */
static int zeros_write(struct fx *f, size_t n, bool aligned, uint64_t *ret_end)
{
    uint64_t off = f->want_len;
    size_t align = EVI_DIRECT_MAX_ALIGN, lead = aligned ? (size_t)(off % align) : 0;
    size_t cap = aligned ? (lead + n + align - 1) / align * align : n;
    uint8_t *mem = NULL;
    if (aligned) {
        assert_int_equal(posix_memalign((void **)&mem, align, cap), 0);
        memcpy(mem, f->want + off - lead, lead); /* the block's earlier bytes */
        memset(mem + lead, 0x55, cap - lead);    /* not zeros: what is written must be */
    } else {
        mem = malloc(n + 1);
        assert_non_null(mem);
    }
    uint8_t *data = mem + (aligned ? lead : 1);
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    fill(data, n, off);
    memcpy(copy, data, n);
    int r = evi_direct_write_zeros(&f->d, f->dirfd, f->seg.first_index, f->seg.fd,
                                   aligned ? mem : data, aligned ? lead + n : n, cap,
                                   aligned ? off - lead : off, ZEROS_TO, ret_end);
    if (r == 1) {
        tu_ok(evi_write_all(f->seg.fd, copy, n, (off_t)off)); /* as the caller would */
    }
    if (r >= 0) {
        memcpy(f->want + off, copy, n);
        f->want_len += n;
    }
    free(copy);
    free(mem);
    return r;
}

static int zeros_append(struct fx *f, size_t n, uint64_t *ret_end)
{
    return zeros_write(f, n, false, ret_end);
}

/* No direct I/O here: fine on file systems that lack it, not on those that have it. */
static void skip_unless_direct(struct fx *f)
{
    assert_true(f->d.unusable);
    assert_false(must_go_direct(f->seg.fd));
    skip();
}

/*
 * Odd sizes at odd offsets, from unaligned buffers: every block written
 * whole and directly (the first block's earlier bytes read back, staged),
 * the records then the zeros the file held; the size stays; nothing is
 * cached.
 */
static void test_zeros_exact(void **state)
{
    struct fx *f = *state;
    zeros_ahead(f);
    const size_t sizes[] = {1,    777,   4095, 1, 4096, 5000, 100000, 3,
                            EVI_DIRECT_CHUNK - 2 * EVI_DIRECT_MAX_ALIGN};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t written = f->d.written, staged = f->d.staged, end = 0, off = f->want_len;
        int r = zeros_append(f, sizes[i], &end);
        if (r == 1 && f->d.unusable) {
            skip_unless_direct(f);
        }
        assert_int_equal(r, 0);
        uint64_t block = off - off % f->d.align;
        uint64_t block_end = (f->want_len + f->d.align - 1) / f->d.align * f->d.align;
        assert_int_equal(end, block_end);
        assert_int_equal(f->d.written - written, block_end - block);
        assert_int_equal(f->d.staged - staged, block_end - block);
        if (!on_tmpfs(f->seg.fd)) {
            assert_int_equal(cached_range(f->seg.fd, block, block_end), 0);
        }
        check_file(f);
    }
}

/*
 * From a buffer that starts on a block boundary with room for the zeros (a
 * commit under the flusher): nothing staged, the zeros written into the
 * buffer, the file exact. Larger than the staging buffer too.
 */
static void test_zeros_from_buffer(void **state)
{
    struct fx *f = *state;
    uint64_t end;
    zeros_ahead(f);
    const size_t sizes[] = {100, 5000, 1, EVI_DIRECT_CHUNK + 12345, 4096};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t written = f->d.written, staged = f->d.staged, off = f->want_len;
        int r = zeros_write(f, sizes[i], true, &end);
        if (r == 1 && f->d.unusable) {
            skip_unless_direct(f);
        }
        assert_int_equal(r, 0);
        uint64_t start = off - off % EVI_DIRECT_MAX_ALIGN; /* where zeros_write's buffer starts */
        assert_int_equal(end % f->d.align, 0);
        assert_int_equal(f->d.written - written, end - start);
        assert_int_equal(f->d.staged, staged);
        check_file(f);
    }
}

/* Not here: past the zeros, or staged and larger than the staging buffer; a refusal; an error. */
static void test_zeros_not_here(void **state)
{
    struct fx *f = *state;
    uint64_t end = 0;
    zeros_ahead(f);
    if (zeros_append(f, 10, &end) != 0) {
        skip_unless_direct(f);
    }
    uint64_t written = f->d.written;
    uint8_t *data = calloc(1, EVI_DIRECT_CHUNK + 1);
    assert_non_null(data);
    /* The last block would reach past the zeros, which end within it. */
    uint64_t off = f->want_len;
    assert_int_equal(evi_direct_write_zeros(&f->d, f->dirfd, 0, f->seg.fd, data + 1, 100, 100, off,
                                            off + 100, &end),
                     1);
    assert_int_equal(evi_direct_write_zeros(&f->d, f->dirfd, 0, f->seg.fd, data + 1,
                                            EVI_DIRECT_CHUNK, EVI_DIRECT_CHUNK, off, ZEROS_TO,
                                            &end),
                     1);
    assert_int_equal(f->d.written, written);
    check_file(f); /* nothing written */

    evi_io_fail_once(1, EIO);
    assert_int_equal(evi_direct_write_zeros(&f->d, f->dirfd, 0, f->seg.fd, data, 100, 100, off,
                                            ZEROS_TO, &end),
                     -EIO);
    assert_false(f->d.unusable);
    evi_io_fail_once(1, EINVAL);
    assert_int_equal(evi_direct_write_zeros(&f->d, f->dirfd, 0, f->seg.fd, data, 100, 100, off,
                                            ZEROS_TO, &end),
                     1); /* refused: the caller writes them through the page cache */
    assert_true(f->d.unusable);
    assert_int_equal(zeros_append(f, 100, &end), 1); /* and so from then on */
    check_file(f);
    free(data);
}

/* ---- preallocation ------------------------------------------------------- */

/* Fills leave EVI_PREALLOC_MIN_FREE free: on a fuller disk they are refused, so skip. */
static void need_room(int fd)
{
    struct statvfs vfs;
    if (fstatvfs(fd, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < EVI_PREALLOC_MIN_FREE + (64u << 20)) {
        skip();
    }
}

static bool on_memory_fs(int fd)
{
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
}

/* A fill: zeros from the first aligned offset past the header, synced, not cached. */
static void test_prealloc_fill(void **state)
{
    struct fx *f = *state;
    struct evi_prealloc z;
    uint64_t end = 0;

    need_room(f->seg.fd);
    evi_prealloc_init(&z);
    uint64_t from = evi_prealloc_start(&z, EVI_SEGMENT_HEADER);
    assert_int_equal(from, 4096);
    int r = evi_prealloc_fill(&z, f->dirfd, 0, f->seg.fd, from, from + EVI_PREALLOC_STEP, &end);
    if (r == -EOPNOTSUPP) {
        assert_true(z.unusable); /* no direct I/O here: off for good */
        evi_prealloc_close(&z);
        skip();
    }
    tu_ok(r);
    assert_int_equal(end, from + EVI_PREALLOC_STEP);
    assert_int_equal(z.written, EVI_PREALLOC_STEP);
    struct stat st;
    assert_int_equal(fstat(f->seg.fd, &st), 0);
    assert_int_equal(st.st_size, from + EVI_PREALLOC_STEP);
    uint8_t *bytes = malloc(EVI_PREALLOC_STEP);
    assert_non_null(bytes);
    tu_ok(evi_read_exact(f->seg.fd, bytes, EVI_PREALLOC_STEP, (off_t)from));
    for (size_t i = 0; i < EVI_PREALLOC_STEP; i++) {
        assert_int_equal(bytes[i], 0);
    }
    /* The header before it is untouched. */
    tu_ok(evi_read_exact(f->seg.fd, bytes, EVI_SEGMENT_HEADER, 0));
    assert_memory_equal(bytes, f->want, EVI_SEGMENT_HEADER);
    free(bytes);
    evi_prealloc_close(&z);
}

/* Out of space: -ENOSPC, and the file is cut back to where the fill began. */
static void test_prealloc_out_of_space(void **state)
{
    struct fx *f = *state;
    struct evi_prealloc z;
    uint64_t end = 1;

    need_room(f->seg.fd);
    evi_prealloc_init(&z);
    evi_io_fail_after(1, ENOSPC);
    int r = evi_prealloc_fill(&z, f->dirfd, 0, f->seg.fd, 8192, 8192 + EVI_PREALLOC_STEP, &end);
    evi_io_fail_after(0, 0);
    if (r == -EOPNOTSUPP) {
        evi_prealloc_close(&z);
        skip();
    }
    assert_int_equal(r, -ENOSPC);
    assert_int_equal(end, 8192); /* nothing gained */
    struct stat st;
    assert_int_equal(fstat(f->seg.fd, &st), 0);
    assert_int_equal(st.st_size, 8192);
    assert_int_equal(st.st_blocks * 512 <= 8192, true); /* what it took is given back */
    assert_false(z.unusable); /* the next segment tries again */
    evi_prealloc_close(&z);
}

/* On tmpfs an fdatasync costs nothing to save: preallocation is off. */
static void test_prealloc_off_in_memory(void **state)
{
    char root[PATH_MAX], path[PATH_MAX];
    struct evi_segment seg;
    struct evi_prealloc z;
    uint64_t end;
    (void)state;

    (void)snprintf(root, sizeof(root), "/dev/shm/evident-prealloc-XXXXXX");
    if (mkdtemp(root) == NULL) {
        skip();
    }
    assert_int_equal(mkdir(tu_path(path, root, EVI_SEGMENTS_DIR), 0755), 0);
    int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    tu_ok(evi_segment_create(dirfd, 0, &seg));
    bool memory = on_memory_fs(seg.fd);
    evi_prealloc_init(&z);
    int r = evi_prealloc_fill(&z, dirfd, 0, seg.fd, 4096, 4096 + EVI_PREALLOC_STEP, &end);
    evi_prealloc_close(&z);
    struct stat st;
    assert_int_equal(fstat(seg.fd, &st), 0);
    evi_segment_release(&seg);
    (void)close(dirfd);
    tu_rm_rf(root);
    if (!memory) {
        skip(); /* /dev/shm is not tmpfs here */
    }
    assert_int_equal(r, -EOPNOTSUPP);
    assert_true(z.unusable);
    assert_int_equal(st.st_size, EVI_SEGMENT_HEADER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bytes_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zeros_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zeros_from_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zeros_not_here, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prealloc_fill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prealloc_out_of_space, setup, teardown),
        cmocka_unit_test(test_prealloc_off_in_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
