/* SPDX-License-Identifier: Apache-2.0 */
/* Setting the calling thread's ev_last_error() text. */
#ifndef EVI_ERROR_H
#define EVI_ERROR_H

#include <evident/error.h>

/*
 * Records a description of a failure for ev_last_error() and returns code,
 * so that a failure site reads: return evi_error(EV_EFORMAT, "line %zu: ...", n);
 * Never pass secret material.
 */
int evi_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the calling thread's description. */
void evi_error_clear(void);

#endif
