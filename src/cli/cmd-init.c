/* SPDX-License-Identifier: Apache-2.0 */
/* evident init: create a log and show its verification key once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_QRENCODE
#include <qrencode.h>
#endif

#include <evident/config.h>
#include <evident/error.h>
#include <evident/log.h>

#include "cli.h"

static const char usage[] =
    "usage: evident [-d DIR] init --origin ORIGIN [--seal-interval DURATION]\n"
    "                            [--verification-key-file FILE]\n"
    "\n"
    "Creates a new log in DIR and prints its verification key, once.\n"
    "\n"
    "The verification key checks every record's forward-secure tag (evident verify\n"
    "--verification-key-file). It is not stored in the log: write it down or keep the\n"
    "file somewhere other than this host. It is printed on standard output as\n"
    "'verification-key: HEX' (and as a QR code when standard output is a terminal),\n"
    "followed by 'public-key: VKEY', the key that checks the log's signed checkpoints.\n"
    "\n"
    "Options:\n"
    "  --origin ORIGIN           the log's name in its checkpoints, e.g.\n"
    "                            example.com/audit (no spaces, no '+', 1-255 bytes)\n"
    "  --seal-interval DURATION  epoch length: 90 or 90s, 15m, 1h, 2d; at least 1s\n"
    "                            (default 15m)\n"
    "  --verification-key-file FILE\n"
    "                            also write the key (64 hex digits and a newline) to\n"
    "                            FILE, which must not exist; created with mode 0600\n"
    "  -d, --dir DIR             the log directory (default: $EVIDENT_DIR, else\n"
    "                            ./evident-log)\n"
    "  -h, --help                show this help\n"
    "\n"
    "Exit codes: 0 created; 2 usage error, the directory already holds a log, or I/O\n"
    "failure.\n";

#ifdef HAVE_QRENCODE
/* Two modules per character cell with half blocks; light modules are drawn. */
static void print_qr(const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    const int quiet = 2;

    if (qr == NULL) {
        return;
    }
    int w = qr->width;
    for (int y = -quiet; y < w + quiet; y += 2) {
        for (int x = -quiet; x < w + quiet; x++) {
            bool top = y >= 0 && y < w && x >= 0 && x < w && (qr->data[y * w + x] & 1);
            bool bottom =
                y + 1 >= 0 && y + 1 < w && x >= 0 && x < w && (qr->data[(y + 1) * w + x] & 1);
            (void)fputs(!top && !bottom ? "\u2588"
                        : !top          ? "\u2580"
                        : !bottom       ? "\u2584"
                                        : " ",
                        stdout);
        }
        (void)fputc('\n', stdout);
    }
    cli_wipe(qr->data, (size_t)w * (size_t)w);
    QRcode_free(qr);
}
#endif

static int run(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"origin", required_argument, NULL, 'o'},
        {"seal-interval", required_argument, NULL, 's'},
        {"verification-key-file", required_argument, NULL, 'k'},
        CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ev_create_options create = {0};
    const char *key_path = NULL;
    uint8_t key[EV_VERIFICATION_KEY_BYTES];
    char hex[2 * EV_VERIFICATION_KEY_BYTES + 2];
    struct ev_log *log = NULL;
    struct ev_log_info info;
    int key_fd = -1, ret = CLI_TROUBLE, c, r;

    while ((c = getopt_long(argc, argv, CLI_SHORTOPTS, options, NULL)) != -1) {
        switch (c) {
        case 'o': create.origin = optarg; break;
        case 's':
            if (!cli_parse_duration("seal interval", optarg, &create.seal_interval_ns)) {
                return CLI_TROUBLE;
            }
            break;
        case 'k': key_path = optarg; break;
        default:
            if ((r = cli_common_option(cli, c, argv)) >= 0) {
                return r;
            }
        }
    }
    if (optind < argc) {
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    }
    /* The configuration's log.origin and integrity.seal_interval, unless given here. */
    char host_origin[300];
    if (create.origin == NULL && cli->config != NULL) {
        create.origin = cli->config->log.origin;
        if (create.origin == NULL) {
            /* log.origin: null is the host name followed by /evident (docs/CONFIG.md). */
            char host[256] = "localhost";
            if (gethostname(host, sizeof(host)) < 0) {
                (void)snprintf(host, sizeof(host), "localhost");
            }
            host[sizeof(host) - 1] = '\0';
            (void)snprintf(host_origin, sizeof(host_origin), "%s/evident", host);
            create.origin = host_origin;
        }
    }
    if (create.seal_interval_ns == 0 && cli->config != NULL) {
        create.seal_interval_ns = cli->config->integrity.seal_interval_ns;
    }
    if (create.origin == NULL) {
        return cli_usage_error(cli, "--origin is required (or log.origin in the configuration)");
    }

    /* The key file first: if it cannot be made, no log is made whose key nobody kept. */
    if (key_path != NULL) {
        key_fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (key_fd < 0) {
            cli_error("cannot create verification key file '%s': %s", key_path,
                      cli_strerror(errno));
            return CLI_TROUBLE;
        }
    }
    r = ev_log_create(cli->dir, &create, key);
    if (r < 0) {
        if (r == -EEXIST) {
            cli_error("cannot create a log in '%s': it already holds one", cli->dir);
        } else {
            cli_fail(r, "cannot create a log in '%s'", cli->dir);
        }
        goto out;
    }
    cli_hex(key, sizeof(key), hex);
    cli_wipe(key, sizeof(key));

    ret = CLI_OK;
    if (key_fd >= 0) {
        size_t n = strlen(hex);
        hex[n] = '\n';
        r = cli_write_all(key_fd, hex, n + 1);
        hex[n] = '\0';
        if (r == 0 && fsync(key_fd) < 0) {
            r = -errno;
        }
        if (close(key_fd) < 0 && r == 0) {
            r = -errno;
        }
        key_fd = -1;
        if (r < 0) {
            /* The key is still shown below: it is the only copy. */
            cli_error("cannot write verification key file '%s': %s", key_path, cli_strerror(-r));
            ret = CLI_TROUBLE;
        }
    }
    cli_error("the verification key below is shown once and is not stored in '%s': keep it "
              "off this host (it checks the tags of every record)",
              cli->dir);
    (void)printf("verification-key: %s\n", hex);
#ifdef HAVE_QRENCODE
    if (isatty(STDOUT_FILENO)) {
        print_qr(hex);
    }
#endif
    cli_wipe(hex, sizeof(hex));

    if (!cli_open(cli, true, EV_SYNC_ALWAYS, &log)) {
        ret = CLI_TROUBLE;
        goto out;
    }
    r = ev_log_info(log, &info);
    if (r < 0) {
        ret = cli_fail(r, "cannot read '%s'", cli->dir);
        goto out;
    }
    (void)printf("public-key: %s\n", info.vkey);
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output: %s", cli_strerror(errno));
        ret = CLI_TROUBLE;
    }
out:
    cli_wipe(key, sizeof(key));
    cli_wipe(hex, sizeof(hex));
    if (key_fd >= 0) {
        /* The log was not made: leave no empty key file behind. */
        (void)close(key_fd);
        (void)unlink(key_path);
    }
    (void)ev_log_close(log);
    return ret;
}

const struct cli_command cli_cmd_init = {
    .name = "init",
    .summary = "create a log and show its verification key once",
    .usage = usage,
    .run = run,
};
