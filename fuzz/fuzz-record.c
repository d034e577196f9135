/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the binary files of a log directory, the first bytes hostile input meets.
 *
 * Input: one option byte, then the payload. The payload is read as
 *  - a run of records (docs/FORMAT.md §4) from byte 0, and after a segment header from
 *    byte 32: evi_record_decode; and from byte 0 as the records of a pruned segment
 *    (§3.2, pruned runs allowed): evi_record_decode_any;
 *  - a segment header (§3) and a keystate file (§7): evi_segment_header_decode,
 *    evi_keystate_decode;
 *  - one or more segment files concatenated, cut before every later "EVSEGv1\n", each put in
 *    a memfd and read with evi_scanner as recovery and verification read them; every record
 *    the scanner returns goes through evi_entry_view and, for seals, evi_seal_parse;
 *  - the checkpoint history file (§8) and evident.meta (§2) in a scratch directory:
 *    evi_checkpoint_history_read, evi_meta_read.
 * Option byte 0x01 (and no other value, as it makes a run ten times slower) puts about 1 MiB
 * of valid filler records in front of the first segment's records and two after them, so
 * that the payload's records straddle the scanner's read-ahead buffer (1 MiB + one record)
 * and the scanner has to read again.
 *
 * Invariants beyond "no crash" (a violation is __builtin_trap(), a crash to libFuzzer):
 *  - a decoded record lies inside the bytes given, has 1..65535 entry bytes, and encodes back
 *    to exactly those bytes; a short record asks for more bytes than it had;
 *  - a decoded segment header encodes back to exactly its 32 bytes; a decoded keystate
 *    encodes back to its bytes apart from the reserved fields;
 *  - the scanner returns exactly the records that decoding the file directly finds, in order,
 *    with the same bytes, and stops with the same status; after damage, evi_zero_tail finds
 *    exactly where the zeros ending the file begin;
 *  - history frames lie inside the file and carry their checksum, and reading stops early
 *    only at a torn last frame (success) or a damaged frame (EV_ECORRUPT); metadata values
 *    are in the ranges of §2;
 *  - decoders write their ret_* results only on success (STYLE.md).
 *
 * Seed corpus: fuzz/corpus/record/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <evident/error.h>
#include <evident/log.h>

#include "crypto.h"
#include "entry.h"
#include "fskey.h"
#include "record.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

#define POISON 0xa5
#define MAX_SEGMENTS 8
#define OPT_FILLER 0x01
/*
 * The scanner reads ahead 1 MiB + EVI_RECORD_MAX bytes (store.c SCAN_CHUNK) and reads again
 * from a record that starts past the first 1 MiB of its buffer. The lead filler ends 1000
 * bytes before that point; the tail makes the file longer than one buffer, so the first read
 * never reaches the end of the file.
 */
#define FILLER_LEAD ((size_t)(1u << 20) - 1000)
#define FILLER_TAIL ((size_t)2 * EVI_RECORD_MAX)

static int segment_fds[MAX_SEGMENTS];
static int scratch_dirfd = -1;
static char scratch_dir[64];
static uint8_t *filler_lead, *filler_tail;
static size_t filler_lead_records;

static size_t walk_records(const uint8_t *buf, size_t len, enum evi_record_status *ret_status,
                           size_t *ret_end);

static bool all_poison(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != POISON) {
            return false;
        }
    }
    return true;
}

/* Valid records of at most the largest size that fill exactly len bytes. */
static uint8_t *make_filler(size_t len)
{
    static const uint8_t tag[32];
    uint8_t *out = malloc(len);
    uint8_t *entry = malloc(65535);
    size_t pos = 0;

    CHECK(out != NULL && entry != NULL);
    memset(entry, 'x', 65535);
    while (pos < len) {
        size_t left = len - pos;
        size_t size = left < EVI_RECORD_MAX ? left : EVI_RECORD_MAX;
        if (left - size != 0 && left - size < EVI_RECORD_OVERHEAD + 1) {
            size = left - (EVI_RECORD_OVERHEAD + 1);
        }
        CHECK(size > EVI_RECORD_OVERHEAD);
        pos += evi_record_encode(0, entry, size - EVI_RECORD_OVERHEAD, tag, out + pos);
    }
    CHECK(pos == len);
    free(entry);
    return out;
}

/* Removes a scratch directory and the two files this target makes in it. */
static void remove_scratch_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

    if (fd >= 0) {
        (void)unlinkat(fd, EVI_CHECKPOINTS_FILE, 0);
        (void)unlinkat(fd, EVI_META_FILE, 0);
        (void)close(fd);
    }
    (void)rmdir(path);
}

static void remove_scratch(void)
{
    remove_scratch_dir(scratch_dir);
}

/*
 * A run that crashes or is killed does not get to remove its directory: remove those whose
 * process is gone (the name carries the pid).
 */
static void remove_stale_scratch(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *de;

    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char path[300];
        long pid;
        char end;
        if (sscanf(de->d_name, "evident-fuzz-record.%ld%c", &pid, &end) != 1 || pid <= 0 ||
            kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
            continue;
        }
        (void)snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
        remove_scratch_dir(path);
    }
    (void)closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int i = 0; i < MAX_SEGMENTS; i++) {
        segment_fds[i] = memfd_create("segment", MFD_CLOEXEC);
        CHECK(segment_fds[i] >= 0);
    }
    /*
     * Scratch directory for the history and metadata files, removed at exit. On tmpfs when
     * there is one: rewriting a file on a disk file system flushes it at close (ext4
     * auto_da_alloc), which costs more than everything else the target does.
     */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    remove_stale_scratch(base);
    CHECK(snprintf(scratch_dir, sizeof(scratch_dir), "%s/evident-fuzz-record.%ld", base,
                   (long)getpid()) > 0);
    remove_scratch_dir(scratch_dir); /* a dead process's, if our pid is reused */
    CHECK(mkdir(scratch_dir, 0700) == 0);
    scratch_dirfd = open(scratch_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(scratch_dirfd >= 0);
    CHECK(atexit(remove_scratch) == 0);
    filler_lead = make_filler(FILLER_LEAD);
    filler_lead_records = walk_records(filler_lead, FILLER_LEAD, NULL, NULL);
    filler_tail = make_filler(FILLER_TAIL);
    (void)argc;
    (void)argv;
    return 0;
}

/* ---- records ---------------------------------------------------------------------------- */

/*
 * Decodes records back to back from buf, as far as they are intact; returns how many, and
 * the status and offset where decoding stopped.
 */
static size_t walk_records(const uint8_t *buf, size_t len, enum evi_record_status *ret_status,
                           size_t *ret_end)
{
    size_t pos = 0, count = 0;
    enum evi_record_status st = EVI_RECORD_OK;

    while (pos < len) {
        struct evi_record rec;
        size_t need = 0x5a5a5a5a;
        size_t avail = len - pos;

        memset(&rec, POISON, sizeof(rec));
        st = evi_record_decode(buf + pos, avail, &rec, &need);
        if (st != EVI_RECORD_OK) {
            CHECK(all_poison(&rec, sizeof(rec)));
            switch (st) {
            case EVI_RECORD_SHORT: CHECK(need > avail && need <= EVI_RECORD_MAX); break;
            case EVI_RECORD_BAD_LENGTH:
            case EVI_RECORD_BAD_CRC: CHECK(avail >= EVI_RECORD_PREFIX); break;
            default: CHECK(0);
            }
            break;
        }
        CHECK(rec.entry_len >= 1 && rec.entry_len <= 65535);
        CHECK(rec.size == EVI_RECORD_OVERHEAD + rec.entry_len && rec.size <= avail);
        CHECK(rec.entry == buf + pos + EVI_RECORD_PREFIX);
        CHECK(rec.tag == rec.entry + rec.entry_len);

        uint8_t *again = malloc(rec.size);
        CHECK(again != NULL);
        CHECK(evi_record_encode(rec.epoch, rec.entry, rec.entry_len, rec.tag, again) == rec.size);
        CHECK(memcmp(again, buf + pos, rec.size) == 0);
        free(again);

        pos += rec.size;
        count++;
    }
    if (ret_status != NULL) {
        *ret_status = st;
    }
    if (ret_end != NULL) {
        *ret_end = pos;
    }
    return count;
}

/*
 * The records of a pruned segment (FORMAT.md §3.2): the same walk with runs allowed. A
 * run lies inside the bytes, stands for 1..EVI_PRUNED_RUN_MAX leaf hashes and encodes
 * back to exactly its bytes; any other record is as above.
 */
static void walk_pruned(const uint8_t *buf, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        struct evi_record rec;
        size_t need = 0x5a5a5a5a, avail = len - pos;
        memset(&rec, POISON, sizeof(rec));
        enum evi_record_status st = evi_record_decode_any(buf + pos, avail, true, &rec, &need);
        if (st != EVI_RECORD_OK) {
            CHECK(all_poison(&rec, sizeof(rec)));
            CHECK(st != EVI_RECORD_SHORT || need > avail);
            return;
        }
        CHECK(rec.size <= avail);
        uint8_t *again = malloc(rec.size);
        CHECK(again != NULL);
        if (rec.run_count > 0) {
            CHECK(rec.run_count <= EVI_PRUNED_RUN_MAX && rec.entry == NULL && rec.tag == NULL);
            CHECK(rec.size == EVI_PRUNED_RUN_BYTES(rec.run_count));
            CHECK(rec.leaf == buf + pos + EVI_RECORD_PREFIX);
            CHECK(evi_record_encode_run(rec.epoch, rec.leaf, rec.run_count, again) == rec.size);
        } else {
            CHECK(rec.leaf == NULL);
            CHECK(evi_record_encode(rec.epoch, rec.entry, rec.entry_len, rec.tag, again) ==
                  rec.size);
        }
        CHECK(memcmp(again, buf + pos, rec.size) == 0);
        free(again);
        pos += rec.size;
    }
}

static void check_entry(const uint8_t *entry, size_t len)
{
    struct evi_entry_view view;
    struct evi_seal seal;

    if (evi_entry_view(entry, len, &view) != 0) {
        return;
    }
    CHECK(view.type >= (const char *)entry &&
          view.type + view.type_len < (const char *)entry + len);
    if (evi_entry_is_type(&view, "seal")) {
        (void)evi_seal_parse(entry, len, &seal);
    }
}

static void check_segment_header(const uint8_t *data, size_t size)
{
    struct evi_segment_header h;
    uint8_t again[EVI_SEGMENT_HEADER];

    if (size < EVI_SEGMENT_HEADER) {
        return;
    }
    memset(&h, POISON, sizeof(h));
    if (evi_segment_header_decode(data, &h) != 0) {
        CHECK(all_poison(&h, sizeof(h)));
        return;
    }
    evi_segment_header_encode(&h, again);
    CHECK(memcmp(again, data, EVI_SEGMENT_HEADER) == 0);
}

static void check_keystate(const uint8_t *data, size_t size)
{
    struct evi_fskey k;
    uint8_t again[EVI_KEYSTATE_BYTES];

    if (size < EVI_KEYSTATE_BYTES) {
        return;
    }
    memset(&k, POISON, sizeof(k));
    if (evi_keystate_decode(data, &k) != 0) {
        CHECK(all_poison(&k, sizeof(k)));
        return;
    }
    evi_keystate_encode(&k, again);
    /* Everything but the reserved fields (20..23, 136..155) and so the checksum. */
    CHECK(memcmp(again, data, 20) == 0);
    CHECK(memcmp(again + 24, data + 24, 136 - 24) == 0);
    evi_fskey_wipe(&k);
}

/* ---- scanner ---------------------------------------------------------------------------- */

/* One segment file as written, and what decoding it directly finds after the header. */
struct segment_file {
    uint8_t *bytes;
    size_t len;
    size_t count;                  /* intact records after the header */
    enum evi_record_status status; /* why decoding stopped (EVI_RECORD_OK: at the end) */
    size_t end;                    /* where it stopped, as an offset after the header */
};

static size_t body_len(const struct segment_file *f)
{
    return f->len > EVI_SEGMENT_HEADER ? f->len - EVI_SEGMENT_HEADER : 0;
}

static void make_segment(struct segment_file *f, const uint8_t *given, size_t len, bool filler,
                         int fd)
{
    filler = filler && len >= EVI_SEGMENT_HEADER;
    f->len = len + (filler ? FILLER_LEAD + FILLER_TAIL : 0);
    f->bytes = malloc(f->len > 0 ? f->len : 1);
    CHECK(f->bytes != NULL);
    if (filler) {
        uint8_t *p = f->bytes;
        memcpy(p, given, EVI_SEGMENT_HEADER);
        p += EVI_SEGMENT_HEADER;
        memcpy(p, filler_lead, FILLER_LEAD);
        p += FILLER_LEAD;
        memcpy(p, given + EVI_SEGMENT_HEADER, len - EVI_SEGMENT_HEADER);
        p += len - EVI_SEGMENT_HEADER;
        memcpy(p, filler_tail, FILLER_TAIL);
    } else {
        memcpy(f->bytes, given, len);
    }
    /* The lead filler is intact by construction: decode it once (at start), not every run. */
    size_t skip = filler ? FILLER_LEAD : 0;
    f->count =
        walk_records(f->bytes + EVI_SEGMENT_HEADER + skip, body_len(f) - skip, &f->status, &f->end);
    f->count += filler ? filler_lead_records : 0;
    f->end += skip;
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(evi_write_all(fd, f->bytes, f->len, 0) == 0);
}

static uint32_t file_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_scanner(const uint8_t *payload, size_t size, bool filler)
{
    struct segment_file files[MAX_SEGMENTS];
    struct evi_segment segs[MAX_SEGMENTS];
    size_t count = 0, start = 0;

    if (size == 0) {
        return;
    }
    /* One segment file per "EVSEGv1\n" after the first byte; the last takes the rest. */
    size_t cut[MAX_SEGMENTS + 1];
    cut[0] = 0;
    for (size_t i = 1; i + 8 <= size && count + 1 < MAX_SEGMENTS; i++) {
        if (memcmp(payload + i, EVI_SEGMENT_MAGIC, 8) == 0) {
            cut[++count] = i;
        }
    }
    cut[++count] = size;
    for (size_t i = 0; i < count; i++) {
        start = cut[i];
        make_segment(&files[i], payload + start, cut[i + 1] - start, filler && i == 0,
                     segment_fds[i]);
        segs[i] = (struct evi_segment){
            .first_index = 0, .created_ns = 0, .bytes = files[i].len, .fd = segment_fds[i]};
    }

    struct evi_scanner s;
    CHECK(evi_scanner_init(&s, segs, count, 0, EVI_SEGMENT_HEADER, 0) == 0);
    uint64_t index = 0;
    size_t seg = 0, seen = 0;
    for (;;) {
        struct evi_record rec;
        enum evi_record_status status = (enum evi_record_status)0x5a;
        uint64_t offset_before = s.offset;
        size_t seg_before = s.seg;
        int r = evi_scanner_next(&s, &rec, &status);

        CHECK(r >= 0);
        if (s.seg != seg) {
            /* Moved on: every segment left behind ended cleanly after all its records. */
            CHECK(s.seg > seg && s.seg < count);
            for (size_t k = seg; k < s.seg; k++) {
                CHECK(files[k].end == body_len(&files[k]));
                CHECK((k == seg ? seen : 0) == files[k].count);
            }
            seg = s.seg;
            seen = 0;
        }
        const struct segment_file *f = &files[seg];
        if (r == EVI_SCAN_END) {
            CHECK(seg + 1 == count && f->end == body_len(f) && seen == f->count);
            break;
        }
        if (r == EVI_SCAN_DAMAGED) {
            CHECK(status != EVI_RECORD_OK && status == f->status && seen == f->count);
            CHECK(s.offset == EVI_SEGMENT_HEADER + f->end);
            /*
             * Where the zeros ending the file begin (torn tails, preallocation):
             * everything from there is zero, the byte before it is not, or it is
             * where the damage starts.
             */
            uint64_t zeros = UINT64_MAX, from = s.offset;
            if (from <= f->len) { /* else a header cut short */
                CHECK(evi_zero_tail(segment_fds[seg], from, f->len, &zeros) == 0);
                CHECK(zeros >= from && zeros <= f->len);
                for (uint64_t k = zeros; k < f->len; k++) {
                    CHECK(f->bytes[k] == 0);
                }
                CHECK(zeros == from || f->bytes[zeros - 1] != 0);
            }
            break;
        }
        CHECK(r == EVI_SCAN_RECORD);
        CHECK(s.index == ++index && seen < f->count);
        /* The record is the file's bytes where the scanner says it was. */
        uint64_t at = s.offset - rec.size;
        CHECK(at == (s.seg == seg_before ? offset_before : EVI_SEGMENT_HEADER));
        CHECK(rec.size == EVI_RECORD_OVERHEAD + rec.entry_len && at + rec.size <= f->len);
        CHECK(file_get32(f->bytes + at) == rec.entry_len);
        CHECK(file_get32(f->bytes + at + 8) == rec.epoch);
        CHECK(memcmp(f->bytes + at + EVI_RECORD_PREFIX, rec.entry, rec.entry_len) == 0);
        CHECK(memcmp(f->bytes + at + EVI_RECORD_PREFIX + rec.entry_len, rec.tag, 32) == 0);
        check_entry(rec.entry, rec.entry_len);
        seen++;
    }
    evi_scanner_free(&s);
    for (size_t i = 0; i < count; i++) {
        free(files[i].bytes);
    }
}

/* ---- checkpoint history and metadata ------------------------------------------------------ */

static void write_scratch(const char *name, const uint8_t *data, size_t size)
{
    int fd = openat(scratch_dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(evi_write_all(fd, data, size, 0) == 0);
    CHECK(close(fd) == 0);
}

struct history_walk {
    const uint8_t *file;
    size_t len, pos;
    size_t frames;
};

static int visit_note(void *ctx, const char *note, size_t len)
{
    struct history_walk *w = ctx;
    const uint8_t *h = w->file + w->pos;

    /* The same frame, found independently, with its checksum right. */
    CHECK(w->len - w->pos >= 8);
    CHECK(len == ((size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24));
    CHECK(len <= w->len - w->pos - 8);
    CHECK(memcmp(note, h + 8, len) == 0);
    uint32_t crc =
        (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
    CHECK(evi_crc32c(0, note, len) == crc);
    w->pos += 8 + len;
    w->frames++;
    return 0;
}

static void check_history(const uint8_t *data, size_t size)
{
    struct history_walk w = {.file = data, .len = size};

    write_scratch(EVI_CHECKPOINTS_FILE, data, size);
    int r = evi_checkpoint_history_read(scratch_dirfd, visit_note, &w);
    CHECK(r == 0 || r == EV_ECORRUPT);
    CHECK(w.pos <= size);
    if (w.pos == size) {
        CHECK(r == 0);
        return;
    }
    /* Stopped early: at a torn last frame (not an error, store.h) or at a damaged one. */
    size_t left = size - w.pos;
    const uint8_t *h = data + w.pos;
    size_t n =
        left < 8 ? 0 : ((size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24);
    bool torn = left < 8 || n > left - 8;
    CHECK(r == (torn ? 0 : EV_ECORRUPT));
}

static void check_meta(const uint8_t *data, size_t size)
{
    struct evi_meta m;

    write_scratch(EVI_META_FILE, data, size);
    memset(&m, POISON, sizeof(m));
    int r = evi_meta_read(scratch_dirfd, &m);
    if (r != 0) {
        CHECK(r < 0 && all_poison(&m, sizeof(m)));
        return;
    }
    CHECK(m.format == 1);
    size_t origin_len = strnlen(m.origin, sizeof(m.origin));
    CHECK(origin_len >= 1 && origin_len < sizeof(m.origin));
    CHECK(strnlen(m.vkey, sizeof(m.vkey)) < sizeof(m.vkey));
    CHECK(m.seal_interval_ns >= EV_MIN_SEAL_INTERVAL_NS && m.start_ns >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t options = data[0];
    const uint8_t *payload = data + 1;
    size_t len = size - 1;

    /* Exact-size copy: the payload ends where the allocation ends, for ASan. */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    CHECK(exact != NULL);
    memcpy(exact, payload, len);

    (void)walk_records(exact, len, NULL, NULL);
    walk_pruned(exact, len);
    check_segment_header(exact, len);
    check_keystate(exact, len);
    check_scanner(exact, len, options == OPT_FILLER);
    check_history(exact, len);
    check_meta(exact, len);

    free(exact);
    return 0;
}
