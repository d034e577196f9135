/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The checkpoint history's index (FORMAT.md §8): where in DIR/checkpoints
 * the notes of each tree size are, kept by a log handle and brought up to
 * date from where it stopped each time it is asked, so that finding the
 * checkpoint of one size (a proof against an older checkpoint: GET
 * /v1/proof/N?size=, `evident prove --size`) reads and verifies one note,
 * not the whole history. The history only grows; a file that shrank or was
 * replaced is indexed again from its start.
 *
 * Memory: 16 bytes a note (about 8 MiB for a year of checkpoints a minute).
 * Thread-safe: one lock per index, held while it is used.
 */
#ifndef EVIDENT_CPINDEX_H
#define EVIDENT_CPINDEX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <evident/note.h>

struct evi_cpindex_item {
    uint64_t tree_size; /* as the note's body says; its signature is checked when used */
    uint64_t offset;    /* of its frame in the history */
};

struct evi_cpindex {
    pthread_mutex_t mu;
    dev_t dev; /* the file indexed */
    ino_t ino;
    uint64_t end; /* bytes indexed: whole frames */
    bool damaged; /* the frame at `end` is damaged: nothing after it is read */
    struct evi_cpindex_item *items;
    size_t count, cap;
    uint64_t bytes_read; /* tests: history bytes read to index it, in all */
};

void evi_cpindex_init(struct evi_cpindex *ix);
void evi_cpindex_free(struct evi_cpindex *ix);

/*
 * The last note of the history (relative to dirfd) whose tree size is
 * tree_size and that verifier accepts as a checkpoint, copied with a NUL
 * after its len bytes (*ret_note, caller frees). Notes after a damaged frame
 * are not seen: -ENOENT when none is found before it becomes EV_ECORRUPT
 * ("checkpoints: damaged frame at byte N"); a torn last frame (a crash while
 * appending) is not damage. 0, -ENOENT (message set), EV_ECORRUPT, -errno.
 */
int evi_cpindex_find(struct evi_cpindex *ix, int dirfd, const struct ev_verifier *verifier,
                     uint64_t tree_size, char **ret_note, size_t *ret_len);

#endif
