/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident verify: check a log directory from its records (or an export
 * bundle) and say plainly whether it verified, and if not where and why.
 * Reads top to bottom: options, inputs, the check, the report.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <evident/bundle.h>
#include <evident/error.h>
#include <evident/log.h>
#include <evident/note.h>
#include <evident/publish.h>
#include <evident/verify.h>

#include "cli.h"

#define MAX_TRUSTED_CHECKPOINTS 64
#define MAX_CHECKPOINT_DIRS 16

static const char usage[] =
    "usage: evident [-d DIR] verify [--pubkey KEY] [--verification-key-file FILE]\n"
    "                              [--checkpoint FILE]... [--checkpoint-dir DIR]...\n"
    "                              [--json] [--quiet]\n"
    "       evident verify --bundle FILE [--pubkey KEY] [--verification-key-file FILE]\n"
    "                      [--json] [--quiet]\n"
    "\n"
    "Checks the log in DIR from its records: every record intact, entries well formed\n"
    "and in sequence, every seal and every signed checkpoint equal to what the\n"
    "records give; with the verification key, every record's forward-secure tag;\n"
    "with trusted checkpoints kept elsewhere, that the log still contains them.\n"
    "--checkpoint-dir takes every checkpoint published there (integrity.publish,\n"
    "'evident publish'; files *.checkpoint, searched recursively, those of other\n"
    "logs skipped): each must be signed by the log's key and agree with the log, so\n"
    "a truncation or fork after it was published fails.\n"
    "An open epoch (not sealed yet) is always reported.\n"
    "\n"
    "With --bundle, checks an export bundle ('evident export') instead: its\n"
    "checkpoint signature, every entry's inclusion proof, sequence and seals.\n"
    "\n"
    "The report starts with 'verified' or 'FAILED'; on failure it names the kind of\n"
    "failure, the first bad entry and what was expected and found.\n"
    "\n"
    "Options:\n"
    "  --pubkey KEY         pin the log's public key (ORIGIN+KEYID+BASE64, from\n"
    "                       'evident pubkey' kept elsewhere); without it the key\n"
    "                       recorded in the log (or the bundle) is used, which proves\n"
    "                       only that the data is consistent with itself\n"
    "  --verification-key-file FILE\n"
    "                       the verification key shown by 'evident init': 64 hex digits\n"
    "                       (and a newline); the file must not be accessible by group\n"
    "                       or others. '-' reads it from standard input\n"
    "  --checkpoint FILE    a signed checkpoint kept elsewhere that the log must\n"
    "                       contain (repeatable)\n"
    "  --checkpoint-dir DIR every checkpoint of this log published under DIR\n"
    "                       (integrity.publish); none found is exit 2 (repeatable)\n"
    "  --bundle FILE        verify an export bundle instead of DIR\n"
    "  --json               print the report as one JSON object\n"
    "  --quiet              print nothing when verified, one line when not\n"
    "  -d, --dir DIR        the log directory (default: $EVIDENT_DIR, else\n"
    "                       ./evident-log)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit codes: 0 verified; 1 verification failed (including a damaged bundle);\n"
    "2 could not check: usage error, unreadable or insecure key file, malformed\n"
    "--pubkey, no log, I/O failure.\n";

struct options {
    const char *pubkey;
    const char *key_file;
    const char *bundle;
    const char *checkpoint_files[MAX_TRUSTED_CHECKPOINTS];
    size_t checkpoint_count;
    const char *checkpoint_dirs[MAX_CHECKPOINT_DIRS];
    size_t checkpoint_dir_count;
    size_t published, published_skipped; /* checkpoints read from checkpoint_dirs */
    bool json, quiet;
};

static void print_line(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void print_line(const char *key, const char *fmt, ...)
{
    va_list ap;
    (void)printf("%s: ", key);
    va_start(ap, fmt);
    (void)vprintf(fmt, ap);
    va_end(ap);
    (void)fputc('\n', stdout);
}

static int finish(json_t *json)
{
    if (json != NULL) {
        char *text = json_dumps(json, JSON_COMPACT);
        json_decref(json);
        if (text == NULL) {
            cli_error("out of memory");
            return CLI_TROUBLE;
        }
        (void)printf("%s\n", text);
        free(text);
    }
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        return CLI_TROUBLE;
    }
    return CLI_OK;
}

/* ---- a log directory ------------------------------------------------------ */

static int report_dir(const struct cli *cli, const struct options *o,
                      const struct ev_verify_report *rep, bool verified)
{
    char root[2 * EV_HASH_BYTES + 1], since[40], age[32];
    const char *key = o->pubkey != NULL ? "pinned (--pubkey)" : "from evident.meta (not pinned)";

    cli_hex(rep->root, EV_HASH_BYTES, root);
    if (rep->open_epoch) {
        cli_format_time(rep->open_epoch_since_ns, since, sizeof(since));
        cli_format_duration(rep->open_epoch_age_ns, age, sizeof(age));
    }
    if (o->quiet) {
        if (!verified) {
            if (rep->has_entry) {
                cli_error("'%s' FAILED verification: entry %llu: %s: %s", cli->dir,
                          (unsigned long long)rep->entry, ev_failure_name(rep->failure),
                          rep->detail);
            } else {
                cli_error("'%s' FAILED verification: %s: %s", cli->dir,
                          ev_failure_name(rep->failure), rep->detail);
            }
        }
        return CLI_OK;
    }
    if (o->json) {
        json_t *j = json_object();
        (void)json_object_set_new(j, "verified", json_boolean(verified));
        (void)json_object_set_new(j, "log", json_string(cli->dir));
        (void)json_object_set_new(j, "failure", json_string(ev_failure_name(rep->failure)));
        (void)json_object_set_new(j, "failure_code", json_integer(rep->failure));
        (void)json_object_set_new(
            j, "entry", rep->has_entry ? json_integer((json_int_t)rep->entry) : json_null());
        (void)json_object_set_new(j, "detail", json_string(rep->detail));
        (void)json_object_set_new(j, "entries", json_integer((json_int_t)rep->entries));
        (void)json_object_set_new(j, "checkpoint_size",
                                  json_integer((json_int_t)rep->checkpoint_size));
        (void)json_object_set_new(j, "root", json_string(root));
        (void)json_object_set_new(j, "key_pinned", json_boolean(o->pubkey != NULL));
        (void)json_object_set_new(j, "tags_checked", json_boolean(rep->tags_checked));
        (void)json_object_set_new(j, "trusted_checkpoints",
                                  json_integer((json_int_t)rep->trusted_checked));
        (void)json_object_set_new(j, "published_checkpoints",
                                  json_integer((json_int_t)o->published));
        (void)json_object_set_new(j, "epochs_sealed", json_integer(rep->epochs_sealed));
        (void)json_object_set_new(j, "open_epoch",
                                  rep->open_epoch
                                      ? json_pack("{s:I,s:I,s:s,s:I}", "number",
                                                  (json_int_t)rep->open_epoch_number, "entries",
                                                  (json_int_t)rep->open_epoch_entries, "since",
                                                  rep->open_epoch_entries ? since : "", "age_s",
                                                  (json_int_t)(rep->open_epoch_age_ns / 1000000000))
                                      : json_null());
        (void)json_object_set_new(j, "torn_bytes", json_integer((json_int_t)rep->torn_bytes));
        (void)json_object_set_new(
            j, "pruned",
            rep->pruned_segments > 0
                ? json_pack("{s:I,s:I,s:I,s:I,s:I}", "entries", (json_int_t)rep->pruned_entries,
                            "segments", (json_int_t)rep->pruned_segments, "first",
                            (json_int_t)rep->pruned_first, "last", (json_int_t)rep->pruned_last,
                            "retention_entries", (json_int_t)rep->retention_entries)
                : json_null());
        return finish(j);
    }
    (void)printf("%s: log '%s'\n", verified ? "verified" : "FAILED", cli->dir);
    if (!verified) {
        print_line("failure", "%s", ev_failure_name(rep->failure));
        if (rep->has_entry) {
            print_line("entry", "%llu", (unsigned long long)rep->entry);
        }
        print_line("detail", "%s", rep->detail);
    }
    if (!verified) {
        /* Past the first failure nothing was checked: say only what is known. */
        print_line("intact-before", "%llu entries", (unsigned long long)rep->entries);
        print_line("checkpoint", "%llu entries", (unsigned long long)rep->checkpoint_size);
        print_line("key", "%s", key);
        print_line("tags", "%s",
                   rep->tags_checked ? "checked" : "NOT checked (no --verification-key-file)");
        return finish(NULL);
    }
    print_line("entries", "%llu", (unsigned long long)rep->entries);
    print_line("checkpoint", "%llu entries", (unsigned long long)rep->checkpoint_size);
    print_line("root", "%s", root);
    print_line("key", "%s", key);
    print_line("tags", "%s",
               rep->tags_checked ? "checked" : "NOT checked (no --verification-key-file)");
    print_line("trusted-checkpoints", "%llu checked", (unsigned long long)rep->trusted_checked);
    if (o->checkpoint_dir_count > 0) {
        print_line("published-checkpoints", "%zu found (%zu of other logs skipped), all consistent",
                   o->published, o->published_skipped);
    }
    print_line("seals", "%lu epochs sealed", (unsigned long)rep->epochs_sealed);
    if (rep->open_epoch && rep->open_epoch_entries > 0) {
        print_line("open-epoch", "epoch %lu, %llu entries since %s (age %s), not sealed yet",
                   (unsigned long)rep->open_epoch_number,
                   (unsigned long long)rep->open_epoch_entries, since, age);
    } else if (rep->open_epoch) {
        print_line("open-epoch", "epoch %lu, no entries yet",
                   (unsigned long)rep->open_epoch_number);
    } else {
        print_line("open-epoch", "none (the last epoch is sealed)");
    }
    if (rep->any_sealed) {
        char last[40], last_age[32];
        cli_format_time(rep->last_seal_ns, last, sizeof(last));
        cli_format_duration(rep->last_seal_age_ns, last_age, sizeof(last_age));
        print_line("last-seal", "epoch %lu at %s (%s ago)", (unsigned long)rep->last_sealed_epoch,
                   last, last_age);
    }
    if (rep->torn_bytes > 0) {
        print_line("torn-tail", "%llu bytes after the last intact record (never acknowledged)",
                   (unsigned long long)rep->torn_bytes);
    }
    if (rep->pruned_segments > 0) {
        /* Removed by retention, accounted for, and still checked through their hashes. */
        print_line("pruned",
                   "%llu entries in %llu segments between %llu and %llu (bytes removed by "
                   "retention; hashes%s checked; accounted for by %llu retention entries)",
                   (unsigned long long)rep->pruned_entries,
                   (unsigned long long)rep->pruned_segments, (unsigned long long)rep->pruned_first,
                   (unsigned long long)rep->pruned_last,
                   rep->tags_checked ? ", tags and seals" : " and seals",
                   (unsigned long long)rep->retention_entries);
    }
    return finish(NULL);
}

/*
 * The published checkpoints of this log under each --checkpoint-dir, appended
 * to the trusted notes (which take ownership). Prints its own messages.
 */
static int read_published(struct cli *cli, struct options *o, char ***notes, size_t **lens,
                          size_t *count)
{
    char origin[EV_KEY_NAME_MAX + 1];
    int r;

    if (o->pubkey != NULL) {
        struct ev_verifier *v = NULL;
        r = ev_verifier_parse(o->pubkey, &v);
        if (r == 0) {
            (void)snprintf(origin, sizeof(origin), "%s", ev_verifier_name(v));
        }
        ev_verifier_free(v);
    } else {
        r = ev_log_dir_origin(cli->dir, origin, sizeof(origin));
    }
    if (r < 0) {
        return cli_fail(r, "cannot read the origin of '%s'", cli->dir);
    }
    for (size_t d = 0; d < o->checkpoint_dir_count; d++) {
        struct ev_checkpoint_set *set = NULL;
        r = ev_checkpoint_dir_read(o->checkpoint_dirs[d], origin, &set);
        if (r < 0) {
            return cli_fail(r, "cannot read checkpoints under '%s'", o->checkpoint_dirs[d]);
        }
        char **nn = realloc(*notes, (*count + set->count + 1) * sizeof(**notes));
        if (nn != NULL) {
            *notes = nn;
        }
        size_t *nl = realloc(*lens, (*count + set->count + 1) * sizeof(**lens));
        if (nl != NULL) {
            *lens = nl;
        }
        if (nn == NULL || nl == NULL) {
            ev_checkpoint_set_free(set);
            cli_error("out of memory");
            return CLI_TROUBLE;
        }
        for (size_t i = 0; i < set->count; i++) {
            (*notes)[*count] = set->notes[i];
            (*lens)[*count] = set->lens[i];
            set->notes[i] = NULL;
            (*count)++;
        }
        o->published += set->count;
        o->published_skipped += set->skipped;
        for (size_t i = 0; i < set->count; i++) {
            free(set->paths[i]);
            set->paths[i] = NULL;
        }
        set->count = 0;
        ev_checkpoint_set_free(set);
    }
    if (o->published == 0) {
        /* Asked to check against published checkpoints and none is there: not a pass. */
        cli_error("no published checkpoint of '%s' (origin '%s') under the --checkpoint-dir "
                  "given (%zu of other logs)",
                  cli->dir, origin, o->published_skipped);
        return CLI_TROUBLE;
    }
    return CLI_OK;
}

static int verify_dir(struct cli *cli, struct options *o, const uint8_t *key)
{
    char **notes = calloc(o->checkpoint_count + 1, sizeof(*notes));
    size_t *lens = calloc(o->checkpoint_count + 1, sizeof(*lens));
    size_t count = 0;
    struct ev_verify_report rep;
    int ret = CLI_TROUBLE, r;

    if (notes == NULL || lens == NULL) {
        cli_error("out of memory");
        goto out;
    }
    for (size_t i = 0; i < o->checkpoint_count; i++) {
        if (!cli_read_file(o->checkpoint_files[i], EV_NOTE_MAX_BYTES, &notes[i], &lens[i])) {
            goto out;
        }
        count++;
    }
    if (o->checkpoint_dir_count > 0 && read_published(cli, o, &notes, &lens, &count) != CLI_OK) {
        goto out;
    }
    struct ev_verify_options vo = {
        .pubkey = o->pubkey,
        .verification_key = key,
        .checkpoints = (const char *const *)notes,
        .checkpoint_lens = lens,
        .checkpoint_count = count,
    };
    memset(&rep, 0, sizeof(rep));
    r = ev_verify_dir(cli->dir, &vo, &rep);
    if (r == 0 || r == EV_EVERIFY) {
        int pr = report_dir(cli, o, &rep, r == 0);
        ret = pr != CLI_OK ? pr : r == 0 ? CLI_OK : CLI_FAILED;
    } else {
        cli_fail(r, "cannot verify '%s'", cli->dir);
    }
out:
    for (size_t i = 0; notes != NULL && i < count; i++) {
        free(notes[i]);
    }
    free(notes);
    free(lens);
    return ret;
}

/* ---- a bundle ------------------------------------------------------------- */

static int report_bundle(const struct options *o, const struct ev_bundle_report *rep, bool verified)
{
    char root[2 * EV_HASH_BYTES + 1];

    cli_hex(rep->checkpoint_root, EV_HASH_BYTES, root);
    if (o->quiet) {
        if (!verified) {
            if (rep->has_entry) {
                cli_error("bundle '%s' FAILED verification: entry %llu: %s: %s", o->bundle,
                          (unsigned long long)rep->entry, ev_failure_name(rep->failure),
                          rep->detail);
            } else {
                cli_error("bundle '%s' FAILED verification: %s: %s", o->bundle,
                          ev_failure_name(rep->failure), rep->detail);
            }
        }
        return CLI_OK;
    }
    if (o->json) {
        json_t *j = json_object();
        (void)json_object_set_new(j, "verified", json_boolean(verified));
        (void)json_object_set_new(j, "bundle", json_string(o->bundle));
        (void)json_object_set_new(j, "failure", json_string(ev_failure_name(rep->failure)));
        (void)json_object_set_new(j, "failure_code", json_integer(rep->failure));
        (void)json_object_set_new(
            j, "entry", rep->has_entry ? json_integer((json_int_t)rep->entry) : json_null());
        (void)json_object_set_new(j, "detail", json_string(rep->detail));
        (void)json_object_set_new(j, "origin", json_string(rep->origin));
        (void)json_object_set_new(j, "key", json_string(rep->vkey));
        (void)json_object_set_new(j, "key_pinned", json_boolean(rep->key_pinned));
        (void)json_object_set_new(j, "from", json_integer((json_int_t)rep->from));
        (void)json_object_set_new(j, "to", json_integer((json_int_t)rep->to));
        (void)json_object_set_new(j, "checkpoint_verified", json_boolean(rep->checkpoint_verified));
        (void)json_object_set_new(j, "checkpoint_size",
                                  json_integer((json_int_t)rep->checkpoint_size));
        (void)json_object_set_new(j, "checkpoint_root", json_string(root));
        (void)json_object_set_new(j, "entries", json_integer((json_int_t)rep->entries));
        (void)json_object_set_new(j, "seals", json_integer((json_int_t)rep->seals));
        (void)json_object_set_new(j, "root_recomputed", json_boolean(rep->root_recomputed));
        (void)json_object_set_new(j, "tags_checked", json_boolean(rep->tags_checked));
        return finish(j);
    }
    (void)printf("%s: bundle '%s'\n", verified ? "verified" : "FAILED", o->bundle);
    if (!verified) {
        print_line("failure", "%s", ev_failure_name(rep->failure));
        if (rep->has_entry) {
            print_line("entry", "%llu", (unsigned long long)rep->entry);
        }
        print_line("detail", "%s", rep->detail);
    }
    if (rep->origin[0] != '\0') {
        print_line("origin", "%s", rep->origin);
    }
    if (rep->vkey[0] == '\0') {
        /* Failed before the key was read: nothing more is known. */
    } else if (rep->key_pinned) {
        print_line("key", "%s (pinned)", rep->vkey);
    } else {
        print_line("key",
                   "%s (the bundle's own, NOT pinned: compare it with the log's "
                   "public key or use --pubkey)",
                   rep->vkey);
    }
    if (rep->checkpoint_verified) {
        print_line("checkpoint", "%llu entries, root %s, signature valid",
                   (unsigned long long)rep->checkpoint_size, root);
        print_line("range", "%llu..%llu (%llu entries)", (unsigned long long)rep->from,
                   (unsigned long long)(rep->to > rep->from ? rep->to - 1 : rep->from),
                   (unsigned long long)(rep->to - rep->from));
        print_line("entries", "%llu included in the checkpoint", (unsigned long long)rep->entries);
        print_line("seals", "%llu checked", (unsigned long long)rep->seals);
        print_line("root", "%s",
                   rep->root_recomputed ? "recomputed from the entries"
                                        : "not recomputed (not the whole tree)");
    }
    print_line("tags", "%s",
               rep->tags_checked ? "checked" : "NOT checked (no --verification-key-file)");
    return finish(NULL);
}

static int verify_bundle(const struct options *o, const uint8_t *key)
{
    struct ev_bundle_report rep;
    char *text = NULL;
    size_t len;
    int ret, r;

    if (!cli_read_file(o->bundle, EV_BUNDLE_MAX_BYTES, &text, &len)) {
        return CLI_TROUBLE;
    }
    memset(&rep, 0, sizeof(rep));
    r = ev_bundle_verify(text, len, o->pubkey, key, &rep);
    free(text);
    if (r == 0 || r == EV_EVERIFY) {
        int pr = report_bundle(o, &rep, r == 0);
        ret = pr != CLI_OK ? pr : r == 0 ? CLI_OK : CLI_FAILED;
    } else {
        ret = cli_fail(r, "cannot verify bundle '%s'", o->bundle);
    }
    return ret;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"pubkey", required_argument, NULL, 'p'},
        {"verification-key-file", required_argument, NULL, 'k'},
        {"checkpoint", required_argument, NULL, 'c'},
        {"checkpoint-dir", required_argument, NULL, 'D'},
        {"bundle", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct options o = {0};
    uint8_t key[EV_VERIFICATION_KEY_BYTES];
    int ret, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 'p': o.pubkey = optarg; break;
        case 'k': o.key_file = optarg; break;
        case 'c':
            if (o.checkpoint_count == MAX_TRUSTED_CHECKPOINTS) {
                return cli_usage_error(cli, "at most %d --checkpoint files",
                                       MAX_TRUSTED_CHECKPOINTS);
            }
            o.checkpoint_files[o.checkpoint_count++] = optarg;
            break;
        case 'D':
            if (o.checkpoint_dir_count == MAX_CHECKPOINT_DIRS) {
                return cli_usage_error(cli, "at most %d --checkpoint-dir", MAX_CHECKPOINT_DIRS);
            }
            o.checkpoint_dirs[o.checkpoint_dir_count++] = optarg;
            break;
        case 'b': o.bundle = optarg; break;
        case 'j': o.json = true; break;
        case 'q': o.quiet = true; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    if (o.bundle != NULL && (o.checkpoint_count > 0 || o.checkpoint_dir_count > 0)) {
        return cli_usage_error(cli, "--checkpoint and --checkpoint-dir apply to a log "
                                    "directory, not --bundle");
    }
    if (o.pubkey != NULL) {
        struct ev_verifier *v = NULL;
        if (ev_verifier_parse(o.pubkey, &v) < 0) {
            return cli_fail(EV_EBADKEY, "invalid --pubkey '%s'", o.pubkey);
        }
        ev_verifier_free(v);
    }
    if (o.key_file != NULL && !cli_read_verification_key(o.key_file, key)) {
        return CLI_TROUBLE;
    }
    const uint8_t *k = o.key_file != NULL ? key : NULL;
    ret = o.bundle != NULL ? verify_bundle(&o, k) : verify_dir(cli, &o, k);
    cli_wipe(key, sizeof(key));
    return ret;
}

const struct cli_command cli_cmd_verify = {
    .name = "verify",
    .summary = "verify a log (or an export bundle); exit 1 if it fails",
    .usage = usage,
    .run = run,
};
