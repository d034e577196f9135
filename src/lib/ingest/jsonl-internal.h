/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON Lines reader with evidentd's extras, for its intake (src/daemon/intake.c). */
#ifndef EVI_JSONL_INTERNAL_H
#define EVI_JSONL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <evident/jsonl.h>

/*
 * ev_jsonl_read_fast(), and when it returns 1, *ret_data_canonical says
 * whether the event's data is already in canonical form (FORMAT.md §5; true
 * when there is none), so that preparing it need not check that again
 * (evi_event_prepare_canonical(), events/events.h). fuzz/fuzz-jsonl.c checks
 * that such data is canonical.
 */
int evi_jsonl_read_fast(struct ev_jsonl_buffer *buffer, const char *line, size_t len,
                        size_t max_object_bytes, struct ev_jsonl_event *ret_event,
                        bool *ret_data_canonical);

/*
 * ev_jsonl_read() with the type from the URL path of evidentd's typed
 * endpoints (POST /v1/events/TYPE): path_type, when not NULL, is the type of
 * a line without one, and a line's own type must equal it ("type: differs
 * from the type in the path"). *ret_data_canonical (may be NULL) as
 * evi_jsonl_read_fast() says it, false when jansson read the line.
 *
 * Without ev_jsonl_read()'s limit on the line (EV_JSONL_LINE_MAX): evidentd
 * bounds a request itself (server.max_request_bytes).
 */
int evi_jsonl_read(struct ev_jsonl_buffer *buffer, const char *line, size_t len,
                   const char *path_type, struct ev_jsonl_event *ret_event,
                   bool *ret_data_canonical);

#endif
