/*
 * catopen.h - finding and opening the backup catalog of a vault for the commands that work on
 * an existing catalog (catalog ls / stats / import, check, prune, rebuild): the path the user
 * named, or the default one per endpoint + account + vault (floe_catalog_default_path).
 *
 * Threads: the calling thread; the returned handle follows catalog.h's rules.
 */
#ifndef FLOE_ENGINE_BACKUP_CATOPEN_H
#define FLOE_ENGINE_BACKUP_CATOPEN_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"
#include "floe/client.h"
#include "floe/error.h"

/*
 * floe_catopen_path() - the catalog path: catalog_path if non-NULL (copied), else the default
 * for c's endpoint and account and vault. out: cap bytes. FLOE_OK or the default path's error.
 */
int floe_catopen_path(struct floe_client *c, const char *vault, const char *catalog_path, char *out,
                      size_t cap, struct floe_error *err);

/*
 * floe_catopen() - open the catalog of vault (path as floe_catopen_path). must_exist: a missing
 * file is FLOE_E_NOT_FOUND "no catalog PATH for vault V (floe catalog rebuild makes one from
 * the vault)" instead of a new catalog. read_only as floe_catalog_options. *out owns the
 * handle (floe_catalog_close); path_out (may be NULL, cap bytes) receives the path used.
 */
int floe_catopen(struct floe_client *c, const char *vault, const char *catalog_path,
                 bool must_exist, bool read_only, struct floe_catalog **out, char *path_out,
                 size_t cap, struct floe_error *err);

#endif
