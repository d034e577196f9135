/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intake: what producers send, made into prepared events under the current
 * policy, with a source the daemon vouches for.
 *
 * A JSON event is an object {"type": T, "severity": S, "data": {...},
 * "source": {...}}, read by the library as `evident append --jsonl` reads a
 * line (include/evident/jsonl.h, with the same error messages): type required
 * (a built-in type or custom.NAME), severity optional (a name or 0..7; the
 * type's default otherwise), data optional ({}), source optional and kept as
 * the producer's claim under source.claimed. The
 * entry's source is the transport's: {"transport":"unix","uid":..,"gid":..,
 * "pid":..,"user":..,"host":..} or {"transport":"http","peer":..,"token":..}
 * or {"transport":"syslog_tcp","peer":..}.
 */
#ifndef EVD_INTAKE_H
#define EVD_INTAKE_H

#include <stddef.h>

#include <evident/event.h>

#include "daemon.h"

/*
 * One JSON event (len bytes, need not be NUL-terminated) into *out.
 * transport_source is the canonical JSON object the transport vouches for:
 * out->event.source_json borrows it (keep it alive until the append), unless
 * the event claims a source of its own, when *ret_source gets an owned copy
 * with the claim added (free it after the append; NULL otherwise).
 * type_override (from the path) replaces a missing "type" and must equal a
 * present one. Returns 0, EV_DROPPED (the policy drops it; nothing to
 * release), or a negative code with the reason in err ("line 3: data.exit_code:
 * expected an integer" is built by the caller from "data.exit_code: ...").
 */
int evd_intake_json(struct evd *d, const char *json, size_t len, const char *transport_source,
                    const char *type_override, struct ev_prepared *out, char **ret_source,
                    char *err, size_t err_size);

/*
 * The same, for many events in a row (an HTTP request's): the caller holds
 * d->config_lock for reading around all of them, one lock instead of one per
 * event (two HTTP threads taking it per event spent 4 % of their CPU there).
 */
int evd_intake_json_held(struct evd *d, const char *json, size_t len, const char *transport_source,
                         const char *type_override, struct ev_prepared *out, char **ret_source,
                         char *err, size_t err_size);

/* One syslog message (without framing) into *out; the same returns. */
int evd_intake_syslog(struct evd *d, const char *msg, size_t len, const char *transport_source,
                      struct ev_prepared *out, char *err, size_t err_size);

#endif
