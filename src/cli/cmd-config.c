/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident config: check a configuration file, show the values it gives,
 * and print the option reference (docs/CONFIG.md) or the commented example
 * (config/evident.yaml), both written from the library's option table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/config.h>
#include <evident/error.h>

#include "cli.h"

static const char usage[] =
    "usage: evident config check FILE...\n"
    "       evident config show [FILE]\n"
    "       evident config doc\n"
    "       evident config example\n"
    "\n"
    "check    reads each FILE and prints 'FILE: ok', or the first error as\n"
    "         FILE:LINE:COLUMN: KEY: what is wrong\n"
    "show     prints the values FILE gives (every option, defaults included) as\n"
    "         YAML; without FILE, the defaults\n"
    "doc      prints the option reference in Markdown (docs/CONFIG.md)\n"
    "example  prints every option commented, with its default (config/evident.yaml)\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit codes: 0 ok; 2 usage error, unreadable file or invalid configuration.\n";

static bool print_text(const char *text)
{
    if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        return false;
    }
    return true;
}

/* Loads a file; prints why not and returns false on failure. */
static bool load(const char *path, struct ev_config **ret_config)
{
    int r = ev_config_load(path, ret_config);

    if (r == EV_EFORMAT || r == EV_ETOOBIG) {
        /* FILE:LINE:COLUMN: KEY: ..., as compilers write it, so that editors find the place. */
        (void)fprintf(stderr, "%s\n", ev_last_error());
        return false;
    }
    if (r < 0) {
        cli_fail(r, "cannot read config '%s'", path);
        return false;
    }
    return true;
}

static int check(struct cli *cli, int argc, char **argv)
{
    int ret = CLI_OK;

    if (argc == 0) {
        return cli_usage_error(cli, "check needs a FILE");
    }
    for (int i = 0; i < argc; i++) {
        struct ev_config *config = NULL;
        if (!load(argv[i], &config)) {
            ret = CLI_TROUBLE;
            continue;
        }
        ev_config_free(config);
        (void)printf("%s: ok\n", argv[i]);
    }
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        ret = CLI_TROUBLE;
    }
    return ret;
}

static int show(struct cli *cli, int argc, char **argv)
{
    struct ev_config *config = NULL;
    char *text = NULL;
    int r;

    if (argc > 1) {
        return cli_usage_error(cli, "show takes at most one FILE");
    }
    if (argc == 1 && !load(argv[0], &config)) {
        return CLI_TROUBLE;
    }
    if (argc == 0 && (r = ev_config_defaults(&config)) < 0) {
        return cli_fail(r, "cannot make the defaults");
    }
    r = ev_config_dump(config, &text);
    ev_config_free(config);
    if (r < 0) {
        return cli_fail(r, "cannot write the configuration");
    }
    bool ok = print_text(text);
    free(text);
    return ok ? CLI_OK : CLI_TROUBLE;
}

static int generated(struct cli *cli, int argc, char **argv, int (*write)(char **))
{
    char *text = NULL;
    int r;

    if (argc > 0) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[0]);
    }
    if ((r = write(&text)) < 0) {
        return cli_fail(r, "cannot write the text");
    }
    bool ok = print_text(text);
    free(text);
    return ok ? CLI_OK : CLI_TROUBLE;
}

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *action;
    int c, r;

    /* '+' : options end at the action's arguments (a FILE may start with '-'). */
    while ((c = getopt_long(argc, argv, "+" CLI_SHORTOPTS, options, NULL)) != -1) {
        if ((r = cli_common_option(cli, c, argv)) >= 0) {
            return r;
        }
    }
    if (optind >= argc) {
        return cli_usage_error(cli, "missing action: check, show, doc or example");
    }
    action = argv[optind++];
    argc -= optind;
    argv += optind;
    if (strcmp(action, "check") == 0) {
        return check(cli, argc, argv);
    }
    if (strcmp(action, "show") == 0) {
        return show(cli, argc, argv);
    }
    if (strcmp(action, "doc") == 0) {
        return generated(cli, argc, argv, ev_config_doc_markdown);
    }
    if (strcmp(action, "example") == 0) {
        return generated(cli, argc, argv, ev_config_example_yaml);
    }
    return cli_usage_error(cli, "unknown action '%s': check, show, doc or example", action);
}

const struct cli_command cli_cmd_config = {
    .name = "config",
    .summary = "check or show a configuration file; print its reference",
    .usage = usage,
    .run = run,
};
