/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evident: the command line tool. Global options, then one subcommand from
 * the table below; each subcommand lives in cmd-<name>.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evident/config.h>

#include "cli.h"

#ifndef EVIDENT_VERSION
#define EVIDENT_VERSION "unknown"
#endif

/* The one command table: parsing, dispatch and 'evident --help' all read it. */
static const struct cli_command *const commands[] = {
    &cli_cmd_init,         &cli_cmd_append,     &cli_cmd_log,    &cli_cmd_show,    &cli_cmd_entry,
    &cli_cmd_info,         &cli_cmd_checkpoint, &cli_cmd_pubkey, &cli_cmd_prove,   &cli_cmd_verify,
    &cli_cmd_verify_proof, &cli_cmd_export,     &cli_cmd_seal,   &cli_cmd_event,   &cli_cmd_ingest,
    &cli_cmd_config,       &cli_cmd_summary,    &cli_cmd_report, &cli_cmd_token,   &cli_cmd_backup,
    &cli_cmd_restore,      &cli_cmd_publish,    &cli_cmd_prune,  &cli_cmd_datakey,
};

/* Commands that may sign a checkpoint: integrity.publish runs after them. */
static const struct cli_command *const signing_commands[] = {
    &cli_cmd_init, &cli_cmd_append,     &cli_cmd_event, &cli_cmd_ingest,
    &cli_cmd_seal, &cli_cmd_checkpoint, &cli_cmd_prune,
};

static bool signs_checkpoints(const struct cli_command *cmd)
{
    for (size_t i = 0; i < sizeof(signing_commands) / sizeof(signing_commands[0]); i++) {
        if (signing_commands[i] == cmd) {
            return true;
        }
    }
    return false;
}

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static int usage(FILE *out)
{
    (void)fprintf(out, "usage: evident [-d DIR] COMMAND [OPTIONS] [ARGS]\n"
                       "\n"
                       "A tamper-evident audit log.\n"
                       "\n"
                       "Commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        (void)fprintf(out, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
    }
    (void)fprintf(out,
                  "\n"
                  "Global options (-d and -h also after the command):\n"
                  "  -d, --dir DIR      the log directory (default: $" CLI_DIR_ENV " if "
                  "set, else\n"
                  "                     the configuration's log.dir, else ./" CLI_DEFAULT_DIR ")\n"
                  "  -c, --config FILE  the configuration (YAML, docs/CONFIG.md; default:\n"
                  "                     $" CLI_CONFIG_ENV " if set, else built-in defaults)\n"
                  "  -h, --help         show this help; 'evident COMMAND --help' for a "
                  "command\n"
                  "  -V, --version      show the version\n"
                  "\n"
                  "Environment: EVIDENT_DIR (the default -d); EVIDENT_CONFIG (the default\n"
                  "-c); EVIDENT_LOCK_TIMEOUT, the\n"
                  "seconds a writer waits for another writer's lock (default 5, 0 = fail at\n"
                  "once; the error names the pid holding it).\n"
                  "\n"
                  "Exit codes: 0 ok, 1 verification failed, 2 could not check (usage, I/O,\n"
                  "configuration); 'append --jsonl' also uses 3 (some lines rejected).\n");
    return fflush(out) == 0 ? CLI_OK : CLI_TROUBLE;
}

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i]->name, name) == 0) {
            return commands[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"dir", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli cli = {.dir = getenv(CLI_DIR_ENV), .config_path = getenv(CLI_CONFIG_ENV)};
    int c;

    if (cli.dir != NULL && cli.dir[0] == '\0') {
        cli.dir = NULL;
    }
    if (cli.config_path != NULL && cli.config_path[0] == '\0') {
        cli.config_path = NULL;
    }
    cli_getopt_reset();
    /* '+': stop at the command name; what follows belongs to the command. */
    while ((c = getopt_long(argc, argv, "+:d:c:hV", options, NULL)) != -1) {
        switch (c) {
        case 'd': cli.dir = optarg; break;
        case 'c': cli.config_path = optarg; break;
        case 'h': return usage(stdout);
        case 'V':
            (void)printf("evident %s\n", EVIDENT_VERSION);
            return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
        case ':': return cli_usage_error(&cli, "option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt != 0) {
                return cli_usage_error(&cli, "unknown option '-%c'", optopt);
            }
            return cli_usage_error(&cli, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        (void)usage(stderr);
        return CLI_TROUBLE;
    }
    if (strcmp(argv[optind], "help") == 0) {
        if (optind + 1 < argc) {
            const struct cli_command *cmd = find_command(argv[optind + 1]);
            if (cmd != NULL) {
                (void)fputs(cmd->usage, stdout);
                return fflush(stdout) == 0 ? CLI_OK : CLI_TROUBLE;
            }
            return cli_usage_error(&cli, "unknown command '%s'", argv[optind + 1]);
        }
        return usage(stdout);
    }
    cli.command = find_command(argv[optind]);
    if (cli.command == NULL) {
        return cli_usage_error(&cli, "unknown command '%s'", argv[optind]);
    }
    /* Without -d or $EVIDENT_DIR, a configuration's log.dir names the log. */
    struct ev_config *config = NULL;
    if (cli.config_path != NULL && cli.command != &cli_cmd_config) {
        if (!cli_config(&cli, &config)) {
            return CLI_TROUBLE;
        }
        cli.config = config;
        if (cli.dir == NULL) {
            cli.dir = config->log.dir;
        }
    }
    if (cli.dir == NULL) {
        cli.dir = CLI_DEFAULT_DIR;
    }
    /* The command parses its own argv: argv[0] is its name. */
    argc -= optind;
    argv += optind;
    cli_getopt_reset();
    bool publish = signs_checkpoints(cli.command);
    size_t before_len = 0;
    char *before = publish ? cli_publish_before(&cli, &before_len) : NULL;
    int r = cli.command->run(&cli, argc, argv);
    if (publish) {
        r = cli_publish_after(&cli, r, before, before_len);
    }
    cli_data_keys_free();
    ev_config_free(config);
    return r;
}
