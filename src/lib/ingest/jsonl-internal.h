/* SPDX-License-Identifier: Apache-2.0 */
/* The fast JSON Lines reader, for evidentd's intake (src/daemon/intake.c). */
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

#endif
