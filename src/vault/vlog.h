/*
 * vlog.h - floe-vault's log: one timestamped line per event on stderr, filtered by the
 * configured level (enum floe_vlog_level in vconfig.h). Depends only on the configuration.
 *
 * Threads: safe from any thread; each line is one write(), so lines never interleave.
 */
#ifndef FLOE_VAULT_VLOG_H
#define FLOE_VAULT_VLOG_H

#include "vconfig.h"

/*
 * floe_vlog() - "HH:MM:SS.mmm floe-vault <level>: <message>" to stderr when level <=
 * cfg->log_level (cfg NULL: always). A message longer than one 2 KiB line is cut.
 */
void floe_vlog(const struct floe_vconfig *cfg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
