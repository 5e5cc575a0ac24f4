/*
 * floe/awsini.h - the AWS shared files (~/.aws/credentials and ~/.aws/config) as the SDKs read
 * them: one profile's keys, one [sso-session NAME] section's keys.
 *
 * The reader reads what Python's configparser (botocore's) reads: [section] headers,
 * "key = value" and "key: value" lines with keys in any case, '#' and ';' comments, lines of
 * any length; indented continuation lines (nested settings such as "s3 =") are skipped.
 * No state, no threads: each lookup reads the file again (they are small and read a few times
 * per credential fetch at most). Public because the CLI reads the profile's region and
 * endpoint_url through it too (one reader for the files, not two).
 */
#ifndef FLOE_AWSINI_H
#define FLOE_AWSINI_H

#include <stdbool.h>

#include "floe/error.h" /* FLOE_API */

#ifdef __cplusplus
extern "C" {
#endif

/* Where the two files are: AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE ("~/" expanded), else
 * $HOME/.aws/credentials and $HOME/.aws/config. malloc'd; NULL without HOME. */
FLOE_API char *floe_awsini_credentials_path(void);
FLOE_API char *floe_awsini_config_path(void);

enum floe_awsini_kind {
    FLOE_AWSINI_CREDENTIALS, /* [name] */
    FLOE_AWSINI_CONFIG,      /* [profile name], and [default] */
    FLOE_AWSINI_SSO_SESSION, /* [sso-session name] (config file) */
};

/*
 * floe_awsini_get() - the value of key (lower case) in section name of the file at path, or
 * NULL (malloc'd; the last of repeated keys wins). *found_section (optional) is set to true
 * when the section exists.
 */
FLOE_API char *floe_awsini_get(const char *path, enum floe_awsini_kind kind, const char *name,
                               const char *key, bool *found_section);

#ifdef __cplusplus
}
#endif

#endif
