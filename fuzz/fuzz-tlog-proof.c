/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes as a c2sp.org/tlog-proof@v1 file (parsed, then verified
 * against the vector log key for the vector leaf of its index) and as a proof-lines file.
 *
 * Invariants beyond "no crash": the parsers accept only canonical text, so whatever parses
 * formats back to exactly the input (proof lines: up to one missing final newline); a proof
 * that verifies names a checkpoint whose size exceeds its index. Violations abort.
 *
 * Seed corpus: fuzz/corpus/tlog-proof/ (valid proofs built from the vectors, and proof-lines
 * files).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>
#include <evident/merkle.h>
#include <evident/note.h>

#define LOG_VKEY "example.com/tlogref/log+f3ae0039+AY+n8lBtG0vciKL+MSXLBNNgoxxLcShZJFfggT3vwSxJ"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ev_verifier *log_verifier(void)
{
    static struct ev_verifier *verifier;

    if (!verifier && ev_verifier_parse(LOG_VKEY, &verifier) != 0) {
        abort();
    }
    return verifier;
}

static void check_tlog_proof(const char *text, size_t len)
{
    struct ev_tlog_proof *proof = NULL;
    struct ev_checkpoint checkpoint;
    char *formatted = NULL;
    size_t formatted_len;
    char entry[32];
    int n;

    if (ev_tlog_proof_parse(text, len, &proof) != 0) {
        /* Still exercise verify's own failure path on the same bytes. */
        if (ev_tlog_proof_verify(text, len, "leaf-0", 6, log_verifier(), &checkpoint) == 0) {
            abort();
        }
        return;
    }
    if (proof->hash_count > EV_MAX_PROOF || proof->checkpoint_len == 0 ||
        (proof->hash_count > 0) != (proof->hashes != NULL)) {
        abort();
    }
    if (ev_tlog_proof_format(proof->index, (const uint8_t(*)[EV_HASH_BYTES])proof->hashes,
                             proof->hash_count, proof->extra, proof->extra_len, proof->checkpoint,
                             proof->checkpoint_len, &formatted, &formatted_len) != 0 ||
        formatted_len != len || memcmp(formatted, text, len) != 0) {
        abort();
    }
    free(formatted);

    /* The vectors' leaf of that index, so that the seeds verify all the way through. */
    n = snprintf(entry, sizeof(entry), "leaf-%" PRIu64, proof->index);
    if (n < 0 || (size_t)n >= sizeof(entry)) {
        abort();
    }
    if (ev_tlog_proof_verify(text, len, entry, (size_t)n, log_verifier(), &checkpoint) == 0 &&
        proof->index >= checkpoint.tree_size) {
        abort();
    }
    ev_tlog_proof_free(proof);
}

static void check_proof_lines(const char *text, size_t len)
{
    uint8_t hashes[EV_MAX_PROOF][EV_HASH_BYTES];
    char *formatted = NULL;
    size_t formatted_len;
    size_t count;

    if (ev_proof_lines_parse(text, len, hashes, &count) != 0) {
        return;
    }
    if (count > EV_MAX_PROOF || ev_proof_lines_format((const uint8_t(*)[EV_HASH_BYTES])hashes,
                                                      count, &formatted, &formatted_len) != 0) {
        abort();
    }
    /* Canonical text, except that the last newline may have been missing. */
    if (memcmp(formatted, text, len < formatted_len ? len : formatted_len) != 0 ||
        !(formatted_len == len || (formatted_len == len + 1 && text[len - 1] != '\n'))) {
        abort();
    }
    free(formatted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that any read past the end is an ASan report. */
    char *text = malloc(size ? size : 1);

    if (!text) {
        abort();
    }
    memcpy(text, data, size);
    check_tlog_proof(text, size);
    check_proof_lines(text, size);
    free(text);
    return 0;
}
