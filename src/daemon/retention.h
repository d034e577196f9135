/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention in evidentd (docs/LIFECYCLE.md): ev_log_prune() with the running
 * configuration's retention.max_age and retention.max_bytes, hourly from the
 * timers and early when the disk runs low. Pruning reads whole segments, so it
 * runs on the caller's thread (the timers), never on the committer: appends go
 * on meanwhile, and the retention entry it writes takes its place among them.
 */
#ifndef EVD_RETENTION_H
#define EVD_RETENTION_H

#include <stdint.h>

struct evd;

#define EVD_RETENTION_INTERVAL_NS (3600ll * 1000000000ll)

/*
 * One retention pass; why ("hourly", "space_left", ...) goes into the stderr
 * line it writes when something was pruned or it failed. want_free_bytes > 0
 * (the disk runs low) adds early pruning down to retention.min_age until that
 * much is free (include/evident/retention.h); 0 applies max_age and max_bytes
 * only. Returns the number of entries pruned, or a negative code (counted in
 * the metrics, said on stderr; the log is left verifiable either way).
 */
int64_t evd_retention_run(struct evd *d, const char *why, uint64_t want_free_bytes);

#endif
