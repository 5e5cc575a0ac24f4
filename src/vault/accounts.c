/*
 * accounts.c - the access keys floe-vault accepts (see accounts.h).
 */
#include "accounts.h"

#include "alloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool floe_vaccounts_account_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isdigit((unsigned char)s[n]))
            return false;
    return n == 12;
}

/* Check one line's fields (f[0..nf)) and add the key. Returns 0 or -1 with why. */
static int add_line(struct floe_vconfig *cfg, const char *path, int line, char **f, int nf,
                    int *first_line, char *why, size_t cap)
{
    static const char *const names[] = {"ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "ACCOUNT_ID",
                                        "USER_ARN"};
    if (nf != 4) {
        snprintf(why, cap,
                 "%s line %d: %d field%s, expected 4 (ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID "
                 "USER_ARN)%s%s",
                 path, line, nf, nf == 1 ? "" : "s", nf < 4 ? "; missing " : "",
                 nf < 4 ? names[nf] : "");
        return -1;
    }
    if (!floe_vaccounts_account_id_valid(f[2])) {
        snprintf(why, cap, "%s line %d: account id \"%.40s\" is not 12 digits", path, line, f[2]);
        return -1;
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "arn:aws:iam::%s:", f[2]);
    if (strncmp(f[3], prefix, strlen(prefix)) != 0 || !f[3][strlen(prefix)]) {
        snprintf(why, cap,
                 "%s line %d: user ARN \"%.200s\" is not an IAM ARN of account %s (%s...)", path,
                 line, f[3], f[2], prefix);
        return -1;
    }
    for (size_t i = 0; i < cfg->ncreds; i++) {
        if (strcmp(cfg->creds[i].access_key, f[0]) == 0) {
            snprintf(why, cap, "%s line %d: access key %.128s is already listed on line %d", path,
                     line, f[0], first_line[i]);
            return -1;
        }
    }
    floe_vconfig_add_cred(cfg, f[0], f[1], f[2], f[3]);
    return 0;
}

int floe_vaccounts_load_file(struct floe_vconfig *cfg, const char *path, char *why, size_t cap)
{
    floe_vconfig_clear_creds(cfg);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(why, cap, "cannot read credentials file %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[4096];
    int line = 0, rc = 0, *first_line = NULL;
    while (rc == 0 && fgets(buf, sizeof(buf), fp)) {
        line++;
        size_t len = strlen(buf);
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
            snprintf(why, cap, "%s line %d: longer than %zu bytes", path, line, sizeof(buf) - 2);
            rc = -1;
            break;
        }
        char *f[5], *save = NULL, *tok;
        int nf = 0;
        for (tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
            if (nf == 0 && tok[0] == '#')
                break;
            if (nf < 5)
                f[nf] = tok;
            nf++;
        }
        if (nf == 0)
            continue;
        rc = add_line(cfg, path, line, f, nf, first_line, why, cap);
        if (rc == 0) {
            first_line = floe_xrealloc(first_line, cfg->ncreds * sizeof(*first_line));
            first_line[cfg->ncreds - 1] = line;
        }
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(why, cap, "cannot read credentials file %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && cfg->ncreds == 0) {
        snprintf(why, cap, "credentials file %s lists no access key", path);
        rc = -1;
    }
    fclose(fp);
    explicit_bzero(buf, sizeof(buf));
    free(first_line);
    if (rc != 0)
        floe_vconfig_clear_creds(cfg);
    return rc;
}

const struct floe_vcred *floe_vaccounts_find(const struct floe_vconfig *cfg, const char *access_key)
{
    for (size_t i = 0; i < cfg->ncreds; i++)
        if (strcmp(cfg->creds[i].access_key, access_key) == 0)
            return &cfg->creds[i];
    return NULL;
}
