/* SPDX-License-Identifier: Apache-2.0 */
/* evident event: placeholder while it is being written. */
#include "cli.h"

static int run(struct cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error(cli, "not built yet");
}

const struct cli_command cli_cmd_event = {
    .name = "event",
    .summary = "(being written)",
    .usage = "usage: evident event\n",
    .run = run,
};
