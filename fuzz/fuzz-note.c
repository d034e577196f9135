/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes as a signed note (verified with the vector log key), a
 * signed checkpoint, a checkpoint body, and a verifier or signer key string.
 *
 * Beyond "no crash", it checks invariants that hold for any input: whatever parses is in
 * range, a body without extension lines formats back to exactly the input (the parser only
 * accepts canonical text), and a parsed key formats to a key that parses to the same name.
 * A violation aborts, which libFuzzer reports as a crash.
 *
 * Seed corpus: fuzz/corpus/note/ (the vector notes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <evident/error.h>
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

static void check_body(const char *text, size_t len)
{
    struct ev_checkpoint checkpoint;
    char *formatted = NULL;
    size_t formatted_len;
    size_t origin_len;

    if (ev_checkpoint_parse(text, len, &checkpoint) != 0) {
        return;
    }
    origin_len = strnlen(checkpoint.origin, sizeof(checkpoint.origin));
    if (origin_len == 0 || origin_len > EV_KEY_NAME_MAX || checkpoint.tree_size > INT64_MAX) {
        abort();
    }
    if (checkpoint.extension_count > 0) {
        return;
    }
    if (ev_checkpoint_format(checkpoint.origin, checkpoint.tree_size, checkpoint.root, &formatted,
                             &formatted_len) != 0 ||
        formatted_len != len || memcmp(formatted, text, len) != 0) {
        abort();
    }
    free(formatted);
}

static void check_keys(const char *text)
{
    struct ev_verifier *verifier = NULL;
    struct ev_verifier *again = NULL;
    struct ev_signer *signer = NULL;
    char *vkey = NULL;

    if (ev_verifier_parse(text, &verifier) == 0) {
        if (ev_verifier_vkey(verifier, &vkey) != 0 || ev_verifier_parse(vkey, &again) != 0 ||
            strcmp(ev_verifier_name(verifier), ev_verifier_name(again)) != 0) {
            abort();
        }
        free(vkey);
        ev_verifier_free(again);
        ev_verifier_free(verifier);
    }
    if (ev_signer_parse(text, &signer) == 0) {
        ev_signer_free(signer);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct ev_verifier *trusted[1] = {log_verifier()};
    struct ev_checkpoint checkpoint;
    size_t text_len = 0;
    char *note;
    char *string;

    /* An exact-size copy, so that any read past the end is an ASan report. */
    note = malloc(size ? size : 1);
    string = malloc(size + 1);
    if (!note || !string) {
        abort();
    }
    memcpy(note, data, size);
    memcpy(string, data, size);
    string[size] = '\0';

    if (ev_note_verify(note, size, trusted, 1, &text_len) == 0) {
        /* The text is a proper prefix ending in \n, followed by the empty line. */
        if (text_len == 0 || text_len + 2 > size || note[text_len - 1] != '\n' ||
            note[text_len] != '\n') {
            abort();
        }
        check_body(note, text_len);
    }
    (void)ev_checkpoint_open(note, size, trusted[0], &checkpoint);
    check_body(note, size);
    check_keys(string);

    free(note);
    free(string);
    return 0;
}
