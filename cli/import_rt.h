/* shiplog import release-tracker FILE.db [--batch N] [--dry-run]: a Release
 * Tracker database's releases and pings, written into the cluster through
 * POST /api/v1/import/release-tracker. */
#ifndef SHIPLOG_CLI_IMPORT_RT_H
#define SHIPLOG_CLI_IMPORT_RT_H

#include "cli/client.h"

/* argv[0] is "release-tracker". Returns the process exit code. */
int cmd_import_release_tracker(const struct client *c, int argc, char **argv);

#endif
