/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char last_error[512];

int evi_error(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return code;
}

void evi_error_clear(void)
{
    last_error[0] = '\0';
}

const char *ev_last_error(void)
{
    return last_error;
}

const char *ev_strerror(int code)
{
    switch (code) {
    case 0: return "success";
    case EV_EFORMAT: return "malformed input";
    case EV_ETAMPERED: return "content does not match its commitment";
    case EV_EBADSIG: return "no valid signature";
    case EV_ETRUNCATED: return "log truncated";
    case EV_EFORKED: return "log forked";
    case EV_ETOOBIG: return "too big";
    case EV_ELOCKED: return "log locked by another writer";
    case EV_EKEYPERM: return "key file accessible by others";
    case EV_EBADKEY: return "malformed key";
    case EV_ECORRUPT: return "damaged record in the durable log";
    case EV_ESTATE: return "key state does not match the records";
    case EV_EVERIFY: return "verification failed";
    case EV_EORIGIN: return "wrong origin";
    case EV_EREADONLY: return "log not open for writing";
    case EV_ERANGE: return "out of range";
    case EV_EJSON: return "malformed event";
    case EV_EPRUNED: return "entry removed by retention";
    case EV_ENOKEY: return "data key needed";
    case EV_EDECRYPT: return "entry does not decrypt";
    default: break;
    }
    if (code < 0 && code > EV_ERRNO_BASE) {
        return strerror(-code);
    }
    return "unknown error";
}
