/* SPDX-License-Identifier: Apache-2.0 */
/* The checkpoint history's index (cpindex.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <evident/error.h>

#include "cpindex.h"
#include "crypto.h"
#include "error.h"
#include "store.h"

/* What one read of the history brings in while indexing. */
#define READ_CHUNK ((size_t)1 << 20)
/* A frame's header: u32 length, u32 CRC32C of the note (FORMAT.md §8). */
#define FRAME_HEADER 8u

void evi_cpindex_init(struct evi_cpindex *ix)
{
    memset(ix, 0, sizeof(*ix));
    (void)pthread_mutex_init(&ix->mu, NULL);
}

void evi_cpindex_free(struct evi_cpindex *ix)
{
    free(ix->items);
    ix->items = NULL;
    ix->count = ix->cap = 0;
    (void)pthread_mutex_destroy(&ix->mu);
}

static uint32_t u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads exactly len bytes at off: 0, or -errno (-EIO for a file that ends first). */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * The tree size a checkpoint body states (its second line, "origin\nsize\n"),
 * unverified: true and *ret_size, or false if the note has no such line.
 */
static bool stated_size(const uint8_t *note, size_t len, uint64_t *ret_size)
{
    const uint8_t *nl = memchr(note, '\n', len);
    uint64_t size = 0;
    size_t i, digits = 0;

    if (nl == NULL) {
        return false;
    }
    for (i = (size_t)(nl - note) + 1; i < len && note[i] >= '0' && note[i] <= '9'; i++) {
        if (++digits > 19 || (digits == 2 && size == 0)) {
            return false; /* over INT64_MAX's digits, or a leading zero */
        }
        size = size * 10 + (uint64_t)(note[i] - '0');
    }
    if (digits == 0 || i == len || note[i] != '\n' || size > INT64_MAX) {
        return false;
    }
    *ret_size = size;
    return true;
}

static int add_item(struct evi_cpindex *ix, uint64_t tree_size, uint64_t offset)
{
    if (ix->count == ix->cap) {
        size_t cap = ix->cap > 0 ? ix->cap * 2 : 256;
        struct evi_cpindex_item *items = realloc(ix->items, cap * sizeof(*items));
        if (items == NULL) {
            return -ENOMEM;
        }
        ix->items = items;
        ix->cap = cap;
    }
    ix->items[ix->count++] = (struct evi_cpindex_item){tree_size, offset};
    return 0;
}

/* A window of the history in memory, for reading its frames one after another. */
struct window {
    uint8_t *buf;
    uint64_t off; /* of buf[0] in the file */
    size_t len;
};

/* Makes [off, off + need) of the file (size file_size) lie in w. 0 or -errno. */
static int window_cover(struct window *w, int fd, uint64_t file_size, uint64_t off, size_t need,
                        struct evi_cpindex *ix)
{
    if (off >= w->off && off + need <= w->off + w->len) {
        return 0;
    }
    size_t len = need > READ_CHUNK ? need : READ_CHUNK;
    if (len > file_size - off) {
        len = (size_t)(file_size - off); /* at least need: the caller checked */
    }
    int r = read_at(fd, w->buf, len, off);
    if (r < 0) {
        return r;
    }
    ix->bytes_read += len;
    w->off = off;
    w->len = len;
    return 0;
}

/* Indexes the whole frames from ix->end to file_size. 0 or -errno. */
static int index_more(struct evi_cpindex *ix, int fd, uint64_t file_size)
{
    struct window w = {.buf = malloc(READ_CHUNK > FRAME_HEADER + EV_NOTE_MAX_BYTES
                                         ? READ_CHUNK
                                         : FRAME_HEADER + EV_NOTE_MAX_BYTES)};
    uint64_t off = ix->end;
    int r = 0;

    if (w.buf == NULL) {
        return -ENOMEM;
    }
    while (file_size - off >= FRAME_HEADER) {
        if ((r = window_cover(&w, fd, file_size, off, FRAME_HEADER, ix)) < 0) {
            break;
        }
        const uint8_t *h = w.buf + (off - w.off);
        uint32_t n = u32le(h), crc = u32le(h + 4);
        if (n > file_size - off - FRAME_HEADER) {
            break; /* a torn last frame (a crash while appending): not indexed yet */
        }
        if (n > EV_NOTE_MAX_BYTES) {
            ix->damaged = true; /* no note is this long: the length is damaged */
            break;
        }
        if ((r = window_cover(&w, fd, file_size, off, FRAME_HEADER + n, ix)) < 0) {
            break;
        }
        const uint8_t *note = w.buf + (off - w.off) + FRAME_HEADER;
        uint64_t size;
        if (evi_crc32c(0, note, n) != crc) {
            ix->damaged = true;
            break;
        }
        if (stated_size(note, n, &size) && (r = add_item(ix, size, off)) < 0) {
            break;
        }
        off += FRAME_HEADER + n;
        ix->end = off;
    }
    free(w.buf);
    return r;
}

/* Brings ix up to the file open as fd. 0 or -errno. */
static int index_update(struct evi_cpindex *ix, int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (st.st_dev != ix->dev || st.st_ino != ix->ino || (uint64_t)st.st_size < ix->end) {
        /* Another file, or one that shrank: start again. */
        ix->dev = st.st_dev;
        ix->ino = st.st_ino;
        ix->end = 0;
        ix->count = 0;
        ix->damaged = false;
    }
    if (ix->damaged) {
        return 0; /* nothing after a damaged frame can be found */
    }
    return index_more(ix, fd, (uint64_t)st.st_size);
}

/* The note of item, if verifier accepts it as a checkpoint of tree_size: 1, 0, or -errno. */
static int try_item(int fd, const struct evi_cpindex_item *item, const struct ev_verifier *verifier,
                    uint64_t tree_size, char **ret_note, size_t *ret_len)
{
    uint8_t h[FRAME_HEADER];
    struct ev_checkpoint cp;
    int r = read_at(fd, h, sizeof(h), item->offset);

    if (r < 0) {
        return r;
    }
    uint32_t n = u32le(h);
    if (n > EV_NOTE_MAX_BYTES) {
        return 0;
    }
    char *note = malloc((size_t)n + 1);
    if (note == NULL) {
        return -ENOMEM;
    }
    r = read_at(fd, note, n, item->offset + FRAME_HEADER);
    note[n] = '\0';
    if (r == 0 && evi_crc32c(0, note, n) == u32le(h + 4) &&
        ev_checkpoint_open(note, n, verifier, &cp) == 0 && cp.tree_size == tree_size) {
        *ret_note = note;
        *ret_len = n;
        return 1;
    }
    free(note);
    return r;
}

int evi_cpindex_find(struct evi_cpindex *ix, int dirfd, const struct ev_verifier *verifier,
                     uint64_t tree_size, char **ret_note, size_t *ret_len)
{
    int fd = openat(dirfd, EVI_CHECKPOINTS_FILE, O_RDONLY | O_CLOEXEC);
    int r = 0;

    if (fd < 0 && errno != ENOENT) {
        return -errno;
    }
    pthread_mutex_lock(&ix->mu);
    if (fd >= 0) {
        r = index_update(ix, fd);
    }
    /* The last note of that size that is validly signed, as the history's reader has it. */
    for (size_t i = ix->count; r == 0 && fd >= 0 && i-- > 0;) {
        if (ix->items[i].tree_size == tree_size) {
            r = try_item(fd, &ix->items[i], verifier, tree_size, ret_note, ret_len);
        }
    }
    if (r == 0) {
        r = fd >= 0 && ix->damaged
                ? evi_error(EV_ECORRUPT, "checkpoints: damaged frame at byte %" PRIu64, ix->end)
                : evi_error(-ENOENT, "no checkpoint of size %" PRIu64 " in the checkpoint history",
                            tree_size);
    } else if (r == 1) {
        r = 0;
    }
    pthread_mutex_unlock(&ix->mu);
    if (fd >= 0) {
        (void)close(fd);
    }
    return r;
}
