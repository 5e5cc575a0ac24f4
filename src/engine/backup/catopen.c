/*
 * catopen.c - the catalog of a vault for the catalog, check, prune and rebuild commands: the
 * path (the user's, or the default per endpoint + account + vault) and the open, with one
 * message for "there is none yet" that says how to make one.
 */
#include "catopen.h"

#include "client_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int floe_catopen_path(struct floe_client *c, const char *vault, const char *catalog_path, char *out,
                      size_t cap, struct floe_error *err)
{
    if (catalog_path) {
        if ((size_t)snprintf(out, cap, "%s", catalog_path) >= cap)
            return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog path %s is too long",
                                  catalog_path);
        return FLOE_OK;
    }
    return floe_catalog_default_path(c->endpoint, c->account_id, vault, out, cap, err);
}

int floe_catopen(struct floe_client *c, const char *vault, const char *catalog_path,
                 bool must_exist, bool read_only, struct floe_catalog **out, char *path_out,
                 size_t cap, struct floe_error *err)
{
    char path[4096];
    int rc = floe_catopen_path(c, vault, catalog_path, path, sizeof(path), err);
    if (rc)
        return rc;
    if (path_out)
        snprintf(path_out, cap, "%s", path);
    if (must_exist && access(path, F_OK) != 0)
        return floe_error_set_errno(err, FLOE_E_NOT_FOUND, ENOENT, path,
                                    "no catalog %s for vault %s (floe catalog rebuild makes one "
                                    "from the vault)",
                                    path, vault);
    struct floe_catalog_options co = {.read_only = read_only};
    return floe_catalog_open(path, &co, out, err);
}
