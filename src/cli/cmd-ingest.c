/* SPDX-License-Identifier: Apache-2.0 */
/* evident ingest: placeholder while it is being written. */
#include "cli.h"

static int run(struct cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error(cli, "not built yet");
}

const struct cli_command cli_cmd_ingest = {
    .name = "ingest",
    .summary = "(being written)",
    .usage = "usage: evident ingest\n",
    .run = run,
};
