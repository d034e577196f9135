/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON event in: one line of JSON Lines read as an event for the log
 * (`evident append --jsonl`, evidentd's Unix socket and HTTP API).
 *
 * A line is one JSON object with the key "type" (a string, docs/FORMAT.md §5,
 * not "seal") and optionally "severity" (a name ev_severity_parse() takes, or
 * its number 0..7), "source" and "data" (JSON objects), and no other key:
 *
 *     {"type": "custom.deploy", "severity": "notice", "data": {"app": "web"}}
 *
 * Reading copies what the event needs (its type, and the source and data
 * objects as text) into a struct ev_jsonl_buffer; the event itself is a set
 * of offsets into that buffer (struct ev_jsonl_event), so that a caller can
 * gather a batch of events in one buffer while it grows, and turn each into
 * the struct ev_event that ev_event_prepare() and ev_log_append() take with
 * ev_jsonl_event_get().
 *
 * The common line is read without a JSON parse tree and without an allocation
 * (once the buffer has grown to the size of a batch): a fast reader accepts a
 * line only when it is sure the line is a good event. Anything it is not sure
 * of (escapes or non-ASCII in keys, type or severity, duplicate or unknown
 * keys, deep nesting, exponents, ...) goes to jansson, which decides and names
 * what is wrong. Source and data are written in canonical form (compact,
 * keys sorted: FORMAT.md §5) when the reader can, which spares the library
 * that work; otherwise they are handed on as their text for the library to
 * validate and canonicalize at ev_event_prepare() or ev_log_append() (which
 * is also where a fault inside them, such as a repeated key or an invalid
 * escape, is found, and where the entry's size is decided: a code_execution
 * keeps a long stdout as its digest and a prefix, so the text of an event
 * may be far longer than an entry).
 *
 * Input: a line is untrusted bytes with an explicit length, with or without
 * a trailing '\r' (the '\n' is the caller's framing and is not passed); it
 * need not be NUL-terminated and is only borrowed for the call. Nothing of it
 * is kept: the event's strings are copies in the buffer.
 *
 * Threads: a buffer belongs to one thread at a time; different buffers may be
 * used by different threads at once. Errors are described in the calling
 * thread's ev_last_error().
 */
#ifndef EVIDENT_JSONL_H
#define EVIDENT_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include <evident/log.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* The longest line ev_jsonl_read() takes, without its newline. */
#define EV_JSONL_LINE_MAX (1u << 20)

/* An offset of struct ev_jsonl_event for a member the line does not have. */
#define EV_JSONL_ABSENT SIZE_MAX

/*
 * The text of the events read, by offset: one growing allocation, reused
 * after ev_jsonl_buffer_clear(). Opaque.
 */
struct ev_jsonl_buffer;

/* An event read from a line: offsets into its buffer, EV_JSONL_ABSENT when absent. */
struct ev_jsonl_event {
    size_t type;   /* NUL-terminated, always present */
    size_t source; /* a JSON object as NUL-terminated text */
    size_t data;   /* a JSON object as NUL-terminated text */
    int severity;  /* enum ev_severity; -1 when absent: the type's default */
};

/* An empty buffer in *ret_buffer. 0 or -ENOMEM. */
int ev_jsonl_buffer_new(struct ev_jsonl_buffer **ret_buffer);

/* Frees the buffer and the text of every event read into it. Accepts NULL. */
void ev_jsonl_buffer_free(struct ev_jsonl_buffer *buffer);

/* Forgets every event read into the buffer; its memory is kept for the next ones. */
void ev_jsonl_buffer_clear(struct ev_jsonl_buffer *buffer);

/* The bytes of text the buffer holds (of every event read since it was cleared). */
size_t ev_jsonl_buffer_size(const struct ev_jsonl_buffer *buffer);

/*
 * The event as the struct the library appends: its strings point into the
 * buffer and stay valid until the next read into it, ev_jsonl_buffer_clear()
 * or ev_jsonl_buffer_free() (a read may move the text). event must come from
 * a read into this buffer since it was last cleared.
 */
void ev_jsonl_event_get(const struct ev_jsonl_buffer *buffer, const struct ev_jsonl_event *event,
                        struct ev_event *ret_event);

/*
 * Reads one line (without its newline) as an event into *ret_event and its
 * text into buffer. Returns:
 *   1            an event was read; its source and data are still to be
 *                validated by ev_event_prepare() or ev_log_append();
 *   0            the line is blank (only spaces, tabs and '\r'): no event;
 *   EV_EJSON     the line is not a good event: nothing added to buffer,
 *                ev_last_error() says what and where, one of
 *                  "contains a NUL byte"
 *                  "invalid JSON at column C: REASON" (C counted from 1, as
 *                      jansson counts; REASON is jansson's, e.g.
 *                      "duplicate object key")
 *                  "expected a JSON object (an event)"
 *                  "type: expected a string"
 *                  "type: expected 1-64 of [a-z0-9_.:-] starting with a
 *                      letter, not \"seal\""
 *                  "severity: expected a name (emergency, alert, critical,
 *                      error, warning, notice, info, debug) or 0..7"
 *                  "KEY: expected a JSON object" (KEY: source or data)
 *                  "KEY: unknown key (expected type, severity, source, data)"
 *                      (KEY: its first 64 bytes, control characters as '?')
 *                  "type: required"
 *                with the first fault in the line's key order; evidentd
 *                answers its producers with the same words;
 *   EV_ETOOBIG   len > EV_JSONL_LINE_MAX ("longer than 1048576 bytes");
 *                nothing added to buffer;
 *   -ENOMEM      out of memory; nothing added to buffer;
 *   -EINVAL      buffer or ret_event NULL, or line NULL with len > 0.
 */
int ev_jsonl_read(struct ev_jsonl_buffer *buffer, const char *line, size_t len,
                  struct ev_jsonl_event *ret_event);

/*
 * The fast reader alone, for callers that read events by rules of their own
 * and want the common line quick. Returns 1 when line (len bytes, any length)
 * is a good event as ev_jsonl_read() defines it, read into *ret_event and
 * buffer, with source and data together taking at most max_object_bytes in
 * the buffer; 0 when it is not sure (buffer left as it was: parse the line
 * with a full JSON parser to decide); -ENOMEM; -EINVAL as ev_jsonl_read().
 * Never an error message.
 */
int ev_jsonl_read_fast(struct ev_jsonl_buffer *buffer, const char *line, size_t len,
                       size_t max_object_bytes, struct ev_jsonl_event *ret_event);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
