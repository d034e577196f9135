/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evidentd: the audit daemon. This file is only the process: arguments,
 * signals and systemd's notifications; daemon.c does the rest.
 *
 *   evidentd [--config FILE]   run in the foreground until SIGTERM or SIGINT
 *   evidentd --check [--config FILE]   check the configuration and exit
 *
 * Signals are blocked in every thread and taken here with sigwait():
 * SIGHUP reloads, SIGTERM and SIGINT stop gracefully (exit 0 when everything
 * acknowledged is sealed and checkpointed).
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <evident/config.h>
#include <evident/error.h>

#include "daemon.h"

static void notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

static void usage(FILE *out)
{
    fprintf(out, "usage: evidentd [--config FILE] [--check]\n"
                 "\n"
                 "The evident audit daemon: receives events over a Unix socket, HTTP and\n"
                 "syslog, and appends them to a tamper-evident log (docs/DAEMON.md).\n"
                 "\n"
                 "  -c, --config FILE  the configuration (default: $EVIDENT_CONFIG, else the\n"
                 "                     built-in defaults; `evident config show` prints them)\n"
                 "      --check        check the configuration and exit\n"
                 "  -h, --help         this text\n"
                 "  -V, --version      the version\n"
                 "\n"
                 "Signals: SIGHUP reloads the configuration, SIGTERM stops gracefully.\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = getenv("EVIDENT_CONFIG");
    bool check = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'k': check = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("evidentd %s\n", EVIDENT_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (config_path != NULL && config_path[0] == '\0') {
        config_path = NULL;
    }
    if (check) {
        struct ev_config *cfg = NULL;
        int r = config_path != NULL ? ev_config_load(config_path, &cfg) : ev_config_defaults(&cfg);
        if (r < 0) {
            fprintf(stderr, "evidentd: %s\n", ev_last_error());
            return 1;
        }
        ev_config_free(cfg);
        printf("%s: ok\n", config_path != NULL ? config_path : "defaults");
        return 0;
    }

    /* Every thread created from here on inherits the blocked set. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "evidentd: libcurl does not initialize\n");
        return 1;
    }
    static struct evd d;
    char err[1024] = "";
    int r = evd_start(&d, config_path, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "evidentd: %s\n", err[0] != '\0' ? err : strerror(-r));
        (void)evd_stop(&d);
        curl_global_cleanup();
        return 1;
    }
    fprintf(stderr, "evidentd %s: serving %s (origin %s)\n", EVIDENT_VERSION, d.config->log.dir,
            d.origin);
    notify("READY=1\nSTATUS=serving");

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            notify("RELOADING=1");
            (void)evd_reload(&d);
            notify("READY=1");
            continue;
        }
        break;
    }
    notify("STOPPING=1\nSTATUS=stopping: committing, sealing, checkpointing");
    fprintf(stderr, "evidentd: stopping\n");
    r = evd_stop(&d);
    curl_global_cleanup();
    if (r < 0) {
        return 1;
    }
    fprintf(stderr, "evidentd: stopped; everything acknowledged is sealed and checkpointed\n");
    return 0;
}
