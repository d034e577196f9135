/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes as a configuration file.
 *
 * Beyond "no crash, no leak", it checks what holds for any input: a failure
 * leaves nothing behind and says where it is (the file name leads the
 * message); whatever parses dumps to YAML that parses back to the same
 * values and dumps to the same text. A violation aborts, which libFuzzer
 * reports as a crash.
 *
 * Seed corpus: fuzz/corpus/config/ (config/evident.yaml and small files
 * touching every kind of value and error).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <evident/config.h>
#include <evident/error.h>

#include "config/config-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ev_config *config = NULL, *again = NULL;
    char *text = NULL, *text_again = NULL;
    int r = ev_config_parse("fuzz.yaml", (const char *)data, size, &config);

    if (r != 0) {
        if (config != NULL || strncmp(ev_last_error(), "fuzz.yaml", 9) != 0) {
            abort();
        }
        return 0;
    }
    if (ev_config_dump(config, &text) != 0) {
        abort();
    }
    if (ev_config_parse("dump.yaml", text, strlen(text), &again) != 0) {
        abort();
    }
    if (!evi_config_equal(config, again) || ev_config_dump(again, &text_again) != 0 ||
        strcmp(text, text_again) != 0) {
        abort();
    }
    free(text);
    free(text_again);
    ev_config_free(config);
    ev_config_free(again);
    return 0;
}
