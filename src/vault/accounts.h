/*
 * accounts.h - who may call floe-vault: the access keys it accepts, each bound to an account
 * id and a user ARN. They come from --credentials-file (a team: several keys, several
 * accounts) or from the one-key shortcut --access-key/--secret-key/--account-id. The file
 * format is in docs/floe-vault.md ("Accounts and access keys").
 *
 * Threads: loading happens on the main thread before the server starts; lookups only read
 * the configuration and are safe from any thread.
 */
#ifndef FLOE_VAULT_ACCOUNTS_H
#define FLOE_VAULT_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "vconfig.h"

/*
 * floe_vaccounts_load_file() - read the credentials file at path into cfg->creds (replacing
 * what it held). One key a line: ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID USER_ARN, separated by
 * blanks; blank lines and lines starting with '#' are skipped.
 * Returns  0, or -1 with the reason (path, line number, what is wrong) in why: unreadable
 *          file, a line without exactly four fields, an account id that is not 12 digits, an
 *          ARN that is not "arn:aws:iam::<that account>:...", an access key listed twice, no
 *          key at all. cfg->creds is left empty on failure.
 */
int floe_vaccounts_load_file(struct floe_vconfig *cfg, const char *path, char *why, size_t cap);

/* floe_vaccounts_account_id_valid() - 12 digits, as AWS account ids are. */
bool floe_vaccounts_account_id_valid(const char *s);

/* floe_vaccounts_find() - the key with this access key id, or NULL. */
const struct floe_vcred *floe_vaccounts_find(const struct floe_vconfig *cfg,
                                             const char *access_key);

#endif
