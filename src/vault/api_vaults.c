/*
 * api_vaults.c - CreateVault, DescribeVault, DeleteVault and ListVaults.
 *
 * Vault statistics are live: NumberOfArchives and SizeInBytes count the archives present now
 * and LastInventoryDate is the time of the last archive change (null before the first one).
 * The real service reports them as of a daily inventory; a local server has no reason to lag.
 */
#include "api.h"

#include "api_common.h"
#include "errors.h"
#include "policy.h"
#include "store_blob.h"
#include "store_db.h"
#include "vctx.h"
#include "vutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VAULT_LIMIT 1000
/* The vaults of one account: ?1 is the account's key prefix ("" for the default account,
 * "ACCOUNT:" otherwise; vconfig.h), and the rest of the key holds no ':'. */
#define ACCOUNT_WHERE                                                                              \
    " WHERE substr(name, 1, length(?1)) = ?1 AND instr(substr(name, length(?1) + 1), ':') = 0"

void floe_vapi_create_vault(struct floe_vreq *rq)
{
    struct floe_error err = {0};
    if (floe_sigv4_vault_name_valid(floe_vconfig_vault_name(rq->vault), &err) != FLOE_OK) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid vault name: %s", err.message);
        return;
    }
    floe_vdb_lock(rq->srv->db);
    int rc = FLOE_OK;
    bool exists = floe_vapi_vault_exists_locked(rq), full = false;
    if (!exists) {
        char prefix[FLOE_VAULT_KEY_MAX];
        floe_vconfig_vault_key(&rq->srv->cfg, rq->account, "", prefix);
        sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, "SELECT COUNT(*) FROM vaults" ACCOUNT_WHERE);
        floe_vdb_bind(st, "t", prefix);
        full = sqlite3_step(st) == SQLITE_ROW && floe_vdb_int(st, 0) >= VAULT_LIMIT;
        sqlite3_reset(st);
        if (!full)
            rc = floe_vdb_exec(rq->srv->db, &err,
                               "INSERT INTO vaults(name, created_ms) VALUES(?, ?)", "ti", rq->vault,
                               floe_vutil_now_ms());
    }
    floe_vdb_unlock(rq->srv->db);
    if (full) {
        floe_verr_reply(rq, FLOE_VERR_LIMIT_EXCEEDED,
                        "The number of vaults would exceed the limit of %d per account and region",
                        VAULT_LIMIT);
        return;
    }
    if (rc) {
        floe_vapi_internal(rq, &err);
        return;
    }
    floe_vapi_location(rq, NULL, NULL);
    floe_vreq_reply_empty(rq, 201);
}

/* DescribeVault object of the vault row in st (name, created_ms, changed_ms); lock held.
 * A floe_vapi_row_fn (user unused). */
static json_t *vault_json_locked(struct floe_vreq *rq, sqlite3_stmt *st, void *user)
{
    (void)user;
    char arn[512], iso[FLOE_VTIME_ISO_MAX];
    const char *name = floe_vdb_text(st, 0);
    floe_vconfig_vault_arn(&rq->srv->cfg, name, arn, sizeof(arn));
    json_t *o = json_object();
    json_object_set_new(o, "VaultARN", json_string(arn));
    json_object_set_new(o, "VaultName", json_string(floe_vconfig_vault_name(name)));
    floe_vutil_iso(floe_vdb_int(st, 1), true, iso);
    json_object_set_new(o, "CreationDate", json_string(iso));
    if (floe_vdb_is_null(st, 2)) {
        json_object_set_new(o, "LastInventoryDate", json_null());
    } else {
        floe_vutil_iso(floe_vdb_int(st, 2), true, iso);
        json_object_set_new(o, "LastInventoryDate", json_string(iso));
    }
    sqlite3_stmt *c =
        floe_vdb_stmt(rq->srv->db, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM archives"
                                   " WHERE vault = ? AND deleted_ms IS NULL");
    floe_vdb_bind(c, "t", name);
    sqlite3_step(c);
    json_object_set_new(o, "NumberOfArchives", json_integer(floe_vdb_int(c, 0)));
    json_object_set_new(o, "SizeInBytes", json_integer(floe_vdb_int(c, 1)));
    sqlite3_reset(c);
    /* floe-vault's own field (scrub.h): archives whose stored bytes failed their hash check */
    c = floe_vdb_stmt(rq->srv->db, "SELECT COUNT(DISTINCT a.id) FROM damage d JOIN archives a"
                                   " ON a.seg_owner = d.owner WHERE a.vault = ?"
                                   " AND a.deleted_ms IS NULL");
    floe_vdb_bind(c, "t", name);
    if (sqlite3_step(c) == SQLITE_ROW && floe_vdb_int(c, 0) > 0)
        json_object_set_new(o, "DamagedArchives", json_integer(floe_vdb_int(c, 0)));
    sqlite3_reset(c);
    return o;
}

void floe_vapi_describe_vault(struct floe_vreq *rq)
{
    json_t *o = NULL;
    floe_vdb_lock_read(rq->srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(
        rq->srv->db, "SELECT name, created_ms, changed_ms FROM vaults WHERE name = ?");
    floe_vdb_bind(st, "t", rq->vault);
    if (sqlite3_step(st) == SQLITE_ROW)
        o = vault_json_locked(rq, st, NULL);
    sqlite3_reset(st);
    floe_vdb_unlock_read(rq->srv->db);
    if (!o) {
        floe_vapi_vault_not_found(rq);
        return;
    }
    floe_vapi_reply_json(rq, 200, o);
}

/* --delete-vault-after-inventory: whether a succeeded inventory job's snapshot (its completion
 * minus --inventory-staleness) is newer than the vault's last archive write, or nothing was ever
 * written. The vault has no archives now (checked before), so that snapshot listed none. An
 * inventory job counts while its row is kept (--job-expiry). Lock held. */
static bool inventoried_since_write_locked(struct floe_vreq *rq)
{
    sqlite3_stmt *st = floe_vdb_stmt(
        rq->srv->db, "SELECT v.changed_ms, (SELECT MAX(completed_ms) FROM jobs WHERE vault = ?1"
                     " AND action = 'InventoryRetrieval' AND status = 'Succeeded') FROM vaults v"
                     " WHERE v.name = ?1");
    floe_vdb_bind(st, "t", rq->vault);
    bool ok = true;
    if (sqlite3_step(st) == SQLITE_ROW && !floe_vdb_is_null(st, 0))
        ok = !floe_vdb_is_null(st, 1) &&
             floe_vdb_int(st, 1) - rq->srv->cfg.inventory_staleness_ms > floe_vdb_int(st, 0);
    sqlite3_reset(st);
    return ok;
}

void floe_vapi_delete_vault(struct floe_vreq *rq)
{
    struct floe_error err = {0};
    struct floe_vblob_names blobs = {0};
    enum { OK, MISSING, NOT_EMPTY, DENIED, FAILED } outcome = OK;
    char why[512] = "";
    floe_vdb_lock(rq->srv->db);
    struct floe_vdb *db = rq->srv->db;
    if (!floe_vapi_vault_exists_locked(rq)) {
        outcome = MISSING;
        goto unlock;
    }
    sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT (SELECT COUNT(*) FROM archives WHERE vault = ?1"
                                         " AND deleted_ms IS NULL) + (SELECT COUNT(*) FROM uploads"
                                         " WHERE vault = ?1 AND state = 'open')");
    floe_vdb_bind(st, "t", rq->vault);
    sqlite3_step(st);
    bool busy = floe_vdb_int(st, 0) > 0;
    sqlite3_reset(st);
    if (busy ||
        (rq->srv->cfg.delete_vault_after_inventory && !inventoried_since_write_locked(rq))) {
        outcome = NOT_EMPTY;
        goto unlock;
    }
    if (floe_vpolicy_lock_denies_locked(rq->srv, rq->vault, "glacier:DeleteVault", -1, why,
                                        sizeof(why))) {
        outcome = DENIED;
        goto unlock;
    }
    if (floe_vdb_begin(db, &err) != FLOE_OK) {
        outcome = FAILED;
        goto unlock;
    }
    st = floe_vdb_stmt(db, "SELECT blob FROM segments WHERE owner IN (SELECT seg_owner FROM"
                           " archives WHERE vault = ?1) OR owner IN (SELECT id FROM uploads"
                           " WHERE vault = ?1) UNION ALL SELECT output_blob FROM jobs WHERE"
                           " vault = ?1 AND output_blob IS NOT NULL");
    floe_vdb_bind(st, "t", rq->vault);
    while (sqlite3_step(st) == SQLITE_ROW)
        floe_vblob_names_add(&blobs, floe_vdb_text(st, 0));
    sqlite3_reset(st);
    static const char *const purge[] = {
        "DELETE FROM segments WHERE owner IN (SELECT seg_owner FROM archives WHERE vault = ?1)"
        " OR owner IN (SELECT id FROM uploads WHERE vault = ?1)",
        "DELETE FROM archives WHERE vault = ?1",
        "DELETE FROM uploads WHERE vault = ?1",
        "DELETE FROM jobs WHERE vault = ?1",
        "DELETE FROM tags WHERE vault = ?1",
        "DELETE FROM vaults WHERE name = ?1",
    };
    int rc = FLOE_OK;
    for (size_t i = 0; i < sizeof(purge) / sizeof(purge[0]) && !rc; i++)
        rc = floe_vdb_exec(db, &err, purge[i], "t", rq->vault);
    rc = floe_vdb_end(db, rc, &err);
    if (rc) {
        outcome = FAILED;
        blobs.n = 0;
    }
unlock:
    floe_vdb_unlock(db);
    floe_vblob_names_unlink(rq->srv->blobs, &blobs);
    char arn[512];
    floe_vconfig_vault_arn(&rq->srv->cfg, rq->vault, arn, sizeof(arn));
    switch (outcome) {
    case OK: floe_vreq_reply_empty(rq, 204); break;
    case MISSING: floe_vapi_vault_not_found(rq); break;
    case NOT_EMPTY:
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Vault not empty or recently written to: %s", arn);
        break;
    case DENIED: floe_verr_reply(rq, FLOE_VERR_ACCESS_DENIED, "%s", why); break;
    case FAILED: floe_vapi_internal(rq, &err); break;
    }
}

/* ListVaults' marker: the ARN of the vault row in st. A floe_vapi_row_fn (user unused). */
static json_t *vault_marker(struct floe_vreq *rq, sqlite3_stmt *st, void *user)
{
    char arn[512];
    (void)user;
    floe_vconfig_vault_arn(&rq->srv->cfg, floe_vdb_text(st, 0), arn, sizeof(arn));
    return json_string(arn);
}

void floe_vapi_list_vaults(struct floe_vreq *rq)
{
    int64_t limit;
    const char *marker = floe_vreq_param(rq, "marker");
    char prefix[256], key[FLOE_VAULT_KEY_MAX];
    const char *from = "";
    if (!floe_vapi_parse_limit(rq, 10, &limit))
        return;
    floe_vconfig_vault_key(&rq->srv->cfg, rq->account, "", key);
    floe_vconfig_vault_arn(&rq->srv->cfg, key, prefix, sizeof(prefix)); /* the ARN up to the name */
    if (marker && *marker) {
        if (strncmp(marker, prefix, strlen(prefix)) != 0 || !marker[strlen(prefix)]) {
            floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                            "Invalid marker: %s (expected a vault ARN from a previous ListVaults)",
                            marker);
            return;
        }
        from = marker + strlen(prefix);
    }
    json_t *next;
    floe_vdb_lock_read(rq->srv->db);
    sqlite3_stmt *st =
        floe_vdb_stmt(rq->srv->db, "SELECT name, created_ms, changed_ms FROM vaults" ACCOUNT_WHERE
                                   " AND name >= ?1 || ?2 ORDER BY name LIMIT ?3");
    floe_vdb_bind(st, "tti", key, from, limit + 1);
    json_t *list =
        floe_vapi_page_locked(rq, st, limit, vault_json_locked, vault_marker, NULL, &next);
    floe_vdb_unlock_read(rq->srv->db);
    json_t *o = json_object();
    json_object_set_new(o, "Marker", next);
    json_object_set_new(o, "VaultList", list);
    floe_vapi_reply_json(rq, 200, o);
}
