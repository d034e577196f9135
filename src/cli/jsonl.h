/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Events as JSON Lines (evident append --jsonl): the text pieces of one event
 * kept by offset in a growing buffer, and a fast reader for the common line.
 *
 * The fast reader needs no parse tree and no allocation per line. It accepts
 * a line only when it is sure the line is a good event, and otherwise says
 * "not sure": the caller then asks jansson, which is the authority on what is
 * wrong with a line. "source" and "data" are handed on as text that the
 * library validates and canonicalizes itself (docs/FORMAT.md §5); the reader
 * writes them canonical when it can, which spares the library that work.
 */
#ifndef EVIDENT_CLI_JSONL_H
#define EVIDENT_CLI_JSONL_H

#include <stdbool.h>
#include <stddef.h>

/* Strings by offset into one growing buffer: offsets survive its growth. */
struct cli_arena {
    char *data;
    size_t len, cap;
};

/* Makes room for more bytes. 0 or -ENOMEM. */
int cli_arena_reserve(struct cli_arena *a, size_t more);

/* Copies len bytes and a NUL; returns their offset, or SIZE_MAX if out of memory. */
size_t cli_arena_add(struct cli_arena *a, const char *s, size_t len);

/* An event read from a line: offsets into the arena, SIZE_MAX when absent. */
struct cli_event_text {
    size_t type, source, data;
    int severity; /* -1 when absent: the type's default */
};

/* 1-64 of [a-z0-9_.:-], starting with a letter (docs/FORMAT.md §5). */
bool cli_event_type_ok(const char *type);

/*
 * Reads one line (without its newline) as an event into *ret_event, its
 * strings into a. Returns 1 if it is a good event (its source and data still
 * to be validated by the library), 0 if not sure (a is left as it was), or
 * -ENOMEM. max_object_bytes bounds source and data together.
 */
int cli_jsonl_fast(const char *text, size_t len, size_t max_object_bytes, struct cli_arena *a,
                   struct cli_event_text *ret_event);

#endif
