/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident error codes.
 *
 * Every libevident function that can fail returns int: 0 (or a documented
 * non-negative count) on success and a negative code on failure. System
 * failures are -errno (-ENOENT, -EACCES, -ENOSPC, ...). evident's own codes sit
 * in a reserved range below EV_ERRNO_BASE and are never renumbered: scripts and
 * other languages' bindings may depend on the numbers.
 *
 * ev_strerror() names every code. ev_last_error() gives, for the calling thread,
 * a one-line description of the most recent failure (what failed, where: file,
 * line, byte offset, field). It never contains secret material.
 */
#ifndef EVIDENT_ERROR_H
#define EVIDENT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* The public API is exported from libevident.so; everything else stays hidden. */
#pragma GCC visibility push(default)

#define EV_ERRNO_BASE (-1000)

enum {
    EV_EFORMAT = -1001,    /* input or file is not in the documented format */
    EV_ETAMPERED = -1002,  /* content does not match what was committed to */
    EV_EBADSIG = -1003,    /* signed note malformed or no valid trusted signature */
    EV_ETRUNCATED = -1004, /* log is shorter than a checkpoint says it must be */
    EV_EFORKED = -1005,    /* log is inconsistent with a checkpoint signed by its key */
    EV_ETOOBIG = -1006,    /* entry or input over its documented size limit */
    EV_ELOCKED = -1007,    /* another process holds the writer lock */
    EV_EKEYPERM = -1008,   /* key file readable or writable by group or others */
    EV_EBADKEY = -1009,    /* key text or key file malformed */
    EV_ECORRUPT = -1010,   /* damaged record inside the durable part of the log */
    EV_ESTATE = -1011,     /* writer key state does not match the records */
    EV_EVERIFY = -1012,    /* verification failed; the report says where and why */
    EV_EORIGIN = -1013,    /* checkpoint origin is not the expected log */
    EV_EREADONLY = -1014,  /* operation needs a log opened for writing */
    EV_ERANGE = -1015,     /* index or tree size outside the log */
    EV_EJSON = -1016,      /* event JSON malformed or not of the required shape */
    EV_ENOKEY = -1017,     /* entry encrypted with a data key that was not given */
    EV_EDECRYPT = -1018,   /* entry does not decrypt with its data key (wrong key, damage) */
    EV_EPRUNED = -1019,    /* the entry's bytes were removed by retention (its hash is kept) */
};

/* Name of a code: "entry too big", "no such file or directory", ... Never NULL. */
const char *ev_strerror(int code);

/*
 * The calling thread's description of its most recent failure, or "" when the
 * last failing call left none. Valid until the next libevident call on this
 * thread. Never contains secret material.
 */
const char *ev_last_error(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
