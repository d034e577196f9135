/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the checkpoint history's index (src/lib/cpindex.c), the
 * reader behind ev_log_checkpoint_at() (GET /v1/proof/N?size=), on a hostile
 * DIR/checkpoints file, against the plain reader it replaced.
 *
 * The input is a program that writes the history file, op by op (byte & 3):
 *
 *     0  a frame of a checkpoint of size B (the next byte), signed by the
 *        vector log key, or (bit 2 of the op byte set) by another key of the
 *        same name: a note that is no checkpoint of this log
 *     1  N raw bytes (N the next byte): garbage, a torn frame, a bad header
 *     2  a frame around N raw bytes, its CRC right
 *     3  flips bits: the byte at (next byte) % file length ^= the byte after
 *
 * Invariants (a violation is __builtin_trap(), a crash to libFuzzer):
 *  - for every tree size 0..255 evi_cpindex_find() returns what a whole read
 *    of the history gives (evi_checkpoint_history_read(), every note checked):
 *    the same code, and when found the same bytes, the last valid note of
 *    that size, before any damaged frame;
 *  - the same holds for an index built on a prefix of the file (cut at the
 *    input's first byte, perhaps inside a frame) and then brought up to date
 *    after the rest is appended.
 *
 * Seed corpus: fuzz/corpus/cpindex/.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <evident/error.h>
#include <evident/note.h>

#include "cpindex.h"
#include "crypto.h"
#include "store.h"

#define LOG_VKEY "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ"
#define LOG_SKEY                                                                                   \
    "PRIVATE+KEY+example.com/tlogref/log+f3ae0039+AeoQBLrfmr/ctauY/vFHfJ4M+v/dn6WO3/CdkwX4ums5"
#define OTHER_SKEY                                                                                 \
    "PRIVATE+KEY+example.com/tlogref/log+a2c8bc56+AY4jIwyaUP+4lEfwff0WY67xFOTImVb+MXmV/n+tKmMm"
#define FILE_MAX (1u << 16)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_verifier *verifier;
static struct ev_signer *signers[2];
static char *notes[2][256]; /* signed once, on first use */
static size_t note_lens[2][256];
static char dir[64];
static int dirfd = -1;

static void check(bool ok)
{
    if (!ok) {
        __builtin_trap();
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    (void)nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    check(ev_verifier_parse(LOG_VKEY, &verifier) == 0);
    check(ev_signer_parse(LOG_SKEY, &signers[0]) == 0);
    check(ev_signer_parse(OTHER_SKEY, &signers[1]) == 0);
    (void)snprintf(dir, sizeof(dir), "/tmp/fuzz-cpindex.XXXXXX");
    check(mkdtemp(dir) != NULL);
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(dirfd >= 0);
    (void)atexit(cleanup);
    return 0;
}

static const char *signed_note(int key, uint8_t size, size_t *ret_len)
{
    if (notes[key][size] == NULL) {
        uint8_t root[EV_HASH_BYTES];
        char *body = NULL;
        size_t body_len;
        memset(root, size, sizeof(root));
        check(ev_checkpoint_format("example.com/tlogref/log", size, root, &body, &body_len) == 0);
        check(ev_note_sign(body, body_len, signers[key], &notes[key][size],
                           &note_lens[key][size]) == 0);
        free(body);
    }
    *ret_len = note_lens[key][size];
    return notes[key][size];
}

struct file {
    uint8_t bytes[FILE_MAX];
    size_t len;
};

static void put(struct file *f, const void *p, size_t n)
{
    if (n > FILE_MAX - f->len) {
        n = FILE_MAX - f->len;
    }
    memcpy(f->bytes + f->len, p, n);
    f->len += n;
}

static void put_frame(struct file *f, const void *note, size_t n)
{
    uint8_t h[8];
    uint32_t crc = evi_crc32c(0, note, n);
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(n >> (8 * i));
        h[4 + i] = (uint8_t)(crc >> (8 * i));
    }
    put(f, h, sizeof(h));
    put(f, note, n);
}

static void build(const uint8_t *p, const uint8_t *end, struct file *f)
{
    while (p < end) {
        uint8_t op = *p++;
        size_t n = p < end ? *p++ : 0;
        switch (op & 3) {
        case 0: {
            size_t len;
            const char *note = signed_note((op >> 2) & 1, (uint8_t)n, &len);
            put_frame(f, note, len);
            break;
        }
        case 1:
            n = n < (size_t)(end - p) ? n : (size_t)(end - p);
            put(f, p, n);
            p += n;
            break;
        case 2:
            n = n < (size_t)(end - p) ? n : (size_t)(end - p);
            put_frame(f, p, n);
            p += n;
            break;
        default:
            if (f->len > 0 && p < end) {
                f->bytes[n % f->len] ^= *p++;
            }
        }
    }
}

static void write_file(const uint8_t *bytes, size_t len, bool truncate)
{
    int fd = openat(dirfd, "checkpoints", O_WRONLY | O_CREAT | (truncate ? O_TRUNC : 0), 0644);
    check(fd >= 0);
    check(pwrite(fd, bytes, len, 0) == (ssize_t)len);
    (void)close(fd);
}

/*
 * The plain reader (bundle.c before the index): every note checked, for each
 * size the last valid one kept; damage ends the history with EV_ECORRUPT.
 */
struct reference {
    char *found[256];
    size_t found_len[256];
    int rc; /* 0, or EV_ECORRUPT */
};

static int reference_visit(void *ctx, const char *note, size_t len)
{
    struct reference *ref = ctx;
    struct ev_checkpoint cp;
    if (ev_checkpoint_open(note, len, verifier, &cp) == 0 && cp.tree_size < 256) {
        size_t s = (size_t)cp.tree_size;
        free(ref->found[s]);
        ref->found[s] = malloc(len + 1);
        check(ref->found[s] != NULL);
        memcpy(ref->found[s], note, len);
        ref->found[s][len] = '\0';
        ref->found_len[s] = len;
    }
    return 0;
}

static void compare(struct evi_cpindex *ix, const struct reference *ref, uint64_t tree_size)
{
    int want = ref->found[tree_size] != NULL ? 0 : ref->rc != 0 ? ref->rc : -ENOENT;
    char *note = NULL;
    size_t len = 0;
    int got = evi_cpindex_find(ix, dirfd, verifier, tree_size, &note, &len);
    check(got == want);
    if (got == 0) {
        check(len == ref->found_len[tree_size] && memcmp(note, ref->found[tree_size], len) == 0 &&
              note[len] == '\0');
    }
    free(note);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct file f;
    struct evi_cpindex whole, grown;
    char *note = NULL;
    size_t len;

    if (size < 1) {
        return 0;
    }
    f.len = 0;
    build(data + 1, data + size, &f);

    /* Grown: indexed on a prefix, then brought up to date after the rest is appended. */
    evi_cpindex_init(&grown);
    size_t cut = f.len > 0 ? data[0] * f.len / 255 : 0;
    write_file(f.bytes, cut, true);
    if (evi_cpindex_find(&grown, dirfd, verifier, 1, &note, &len) == 0) {
        free(note);
    }
    write_file(f.bytes, f.len, false);

    static struct reference ref;
    memset(&ref, 0, sizeof(ref));
    ref.rc = evi_checkpoint_history_read(dirfd, reference_visit, &ref);
    check(ref.rc == 0 || ref.rc == EV_ECORRUPT);

    evi_cpindex_init(&whole);
    for (uint64_t s = 0; s < 256; s++) {
        compare(&whole, &ref, s);
        compare(&grown, &ref, s);
        free(ref.found[s]);
    }
    evi_cpindex_free(&whole);
    evi_cpindex_free(&grown);
    return 0;
}
