/*
 * test_credentials.c - the credential chain without a network: the parsers of every source's
 * answer (credential_process JSON, STS XML, the SSO cache and GetRoleCredentials, metadata
 * JSON, ISO 8601 times), the chain's order with a fake environment and fake shared files,
 * source_profile loops, the refresh schedule, and a provider refreshing keys from a
 * credential_process script in the background.
 */
#include "t_util.h"

#include "credchain.h"
#include "credentials.h"
#include "credparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PARSE(fn, text, ...) fn(text, strlen(text), __VA_ARGS__)

static void test_credentials_time(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(floe_cred_parse_time("1970-01-01T00:00:00Z", &t), FLOE_OK);
    assert_int_equal(t, 0);
    assert_int_equal(floe_cred_parse_time("2026-12-04T09:00:00Z", &t), FLOE_OK);
    assert_int_equal(t, 1796374800);
    assert_int_equal(floe_cred_parse_time("2026-12-04T09:00:00.123456Z", &t), FLOE_OK);
    assert_int_equal(t, 1796374800);
    assert_int_equal(floe_cred_parse_time("2026-12-04T10:30:00+01:30", &t), FLOE_OK);
    assert_int_equal(t, 1796374800);
    assert_int_equal(floe_cred_parse_time("2026-12-04T09:00:00UTC", &t), FLOE_OK);
    assert_int_equal(t, 1796374800);
    const char *bad[] = {"",
                         "2026-12-04",
                         "2026-13-04T09:00:00Z",
                         "2026-02-30T09:00:00Z",
                         "2026-12-04T25:00:00Z",
                         "2026-12-04T09:00:00",
                         "2026-12-04T09:00:00Zjunk",
                         "tomorrow",
                         "2026-12-04T09:00:00.Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(floe_cred_parse_time(bad[i], &t), FLOE_E_INVALID_ARG);
}

static void test_credentials_process_json(void **state)
{
    (void)state;
    struct floe_cred_values v = {0};
    struct floe_error err = {0};
    assert_int_equal(PARSE(floe_cred_parse_process,
                           "{\"Version\": 1, \"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\","
                           " \"SessionToken\": \"TOK\", \"Expiration\": \"2026-12-04T09:00:00Z\"}",
                           "p", &v, &err),
                     FLOE_OK);
    assert_string_equal(v.access_key_id, "AK");
    assert_string_equal(v.secret_access_key, "SK");
    assert_string_equal(v.session_token, "TOK");
    assert_int_equal(v.expiration, 1796374800);
    floe_cred_values_free(&v);
    /* long-term keys: no token, no expiration */
    assert_int_equal(PARSE(floe_cred_parse_process,
                           "{\"Version\": 1, \"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\"}",
                           "p", &v, &err),
                     FLOE_OK);
    assert_null(v.session_token);
    assert_int_equal(v.expiration, 0);
    floe_cred_values_free(&v);
    floe_cred_values_free(&v); /* idempotent */
    struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"Version\": 2, \"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\"}",
         "\"Version\" must be 1"},
        {"{\"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\"}", "\"Version\" must be 1"},
        {"{\"Version\": 1, \"SecretAccessKey\": \"SK\"}", "has no AccessKeyId"},
        {"{\"Version\": 1, \"AccessKeyId\": \"AK\"}", "has no SecretAccessKey"},
        {"{\"Version\": 1, \"AccessKeyId\": \"\", \"SecretAccessKey\": \"SK\"}",
         "has no AccessKeyId"},
        {"{\"Version\": 1, \"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\", "
         "\"Expiration\": \"soon\"}",
         "Expiration is not an ISO 8601 time"},
        {"{\"Version\": 1, \"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\", "
         "\"Expiration\": 12345}",
         "Expiration is not an ISO 8601 time"},
        {"garbage", "not a JSON object"},
        {"[1]", "not a JSON object"},
        {"", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(PARSE(floe_cred_parse_process, bad[i].text, "profile x", &v, &err),
                         FLOE_E_AUTH);
        assert_non_null(strstr(err.message, bad[i].msg));
        assert_non_null(strstr(err.message, "profile x"));
        assert_null(strstr(err.message, "SK"));
        assert_null(v.access_key_id);
    }
}

static void test_credentials_sts_xml(void **state)
{
    (void)state;
    const char ok[] =
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleResult>\n    <AssumedRoleUser>\n      <AssumedRoleId>AROA:s</AssumedRoleId>\n"
        "      <Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\n    </AssumedRoleUser>\n"
        "    <Credentials>\n      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"
        "      <SecretAccessKey>se/cr+et&amp;x</SecretAccessKey>\n"
        "      <SessionToken>FQo&#x3D;&#61;tok</SessionToken>\n"
        "      <Expiration>2026-12-04T09:00:00Z</Expiration>\n    </Credentials>\n"
        "  </AssumeRoleResult>\n</AssumeRoleResponse>\n";
    struct floe_cred_values v = {0};
    struct floe_error err = {0};
    assert_int_equal(PARSE(floe_cred_parse_sts, ok, 200, "AssumeRole", &v, &err), FLOE_OK);
    assert_string_equal(v.access_key_id, "ASIAEXAMPLE");
    assert_string_equal(v.secret_access_key, "se/cr+et&x");
    assert_string_equal(v.session_token, "FQo==tok");
    assert_int_equal(v.expiration, 1796374800);
    floe_cred_values_free(&v);

    const char web[] =
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
        "<SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>"
        "<Credentials><SessionToken>T</SessionToken><SecretAccessKey>S</SecretAccessKey>"
        "<Expiration>2026-12-04T09:00:00.000Z</Expiration><AccessKeyId>A</AccessKeyId>"
        "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
    assert_int_equal(PARSE(floe_cred_parse_sts, web, 200, "AssumeRoleWithWebIdentity", &v, &err),
                     FLOE_OK);
    assert_string_equal(v.access_key_id, "A");
    assert_string_equal(v.session_token, "T");
    floe_cred_values_free(&v);

    const char e403[] = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                        "<Message>not authorized to perform sts:AssumeRole &lt;x&gt;</Message>"
                        "</Error><RequestId>r</RequestId></ErrorResponse>";
    assert_int_equal(PARSE(floe_cred_parse_sts, e403, 403, "AssumeRole", &v, &err), FLOE_E_AUTH);
    assert_string_equal(err.code, "AccessDenied");
    assert_non_null(strstr(err.message, "STS AssumeRole: AccessDenied: not authorized to "
                                        "perform sts:AssumeRole <x> (HTTP 403)"));
    assert_int_equal(PARSE(floe_cred_parse_sts, "oops", 500, "AssumeRole", &v, &err), FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "HTTP 500 without an STS error body"));

    struct {
        const char *xml, *msg;
    } bad[] = {
        {"<AssumeRoleResponse/>", "has no <Credentials>"},
        {"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
         "<Expiration>2026-12-04T09:00:00Z</Expiration></Credentials>",
         "no readable <SessionToken>"},
        {"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
         "<SessionToken>T</SessionToken><Expiration>never</Expiration></Credentials>",
         "<Expiration> \"never\" is not a time"},
        {"<Credentials><AccessKeyId><![CDATA[A]]></AccessKeyId><SecretAccessKey>S"
         "</SecretAccessKey><SessionToken>T</SessionToken><Expiration>2026-12-04T09:00:00Z"
         "</Expiration></Credentials>",
         "no readable <AccessKeyId>"},
        {"<Credentials><AccessKeyId>A&bogus;</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
         "<SessionToken>T</SessionToken><Expiration>2026-12-04T09:00:00Z</Expiration>"
         "</Credentials>",
         "no readable <AccessKeyId>"},
        {"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
         "<SessionToken>T</SessionToken><Expiration>2026-12-04T09:00:00Z</Expiration>",
         "has no <Credentials>"}, /* cut short */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(PARSE(floe_cred_parse_sts, bad[i].xml, 200, "AssumeRole", &v, &err),
                         FLOE_E_AUTH);
        assert_non_null(strstr(err.message, bad[i].msg));
        assert_null(v.access_key_id);
    }
}

static void test_credentials_sso_and_metadata(void **state)
{
    (void)state;
    char *tok = NULL;
    struct floe_error err = {0};
    const char cache[] = "{\"startUrl\": \"https://d-1.awsapps.com/start\", \"region\": "
                         "\"eu-west-1\", \"accessToken\": \"BEARER\", \"expiresAt\": "
                         "\"2026-12-04T09:00:00Z\"}";
    assert_int_equal(PARSE(floe_cred_parse_sso_cache, cache, 1796374800 - 3600, "", &tok, &err),
                     FLOE_OK);
    assert_string_equal(tok, "BEARER");
    free(tok);
    assert_int_equal(
        PARSE(floe_cred_parse_sso_cache, cache, 1796374800 - 30, " (hint)", &tok, &err),
        FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "expired at 2026-12-04T09:00:00Z: run aws sso login"));
    assert_non_null(strstr(err.message, "(hint)"));
    assert_int_equal(
        PARSE(floe_cred_parse_sso_cache, "{\"accessToken\": \"x\"}", 0, "", &tok, &err),
        FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "run aws sso login"));
    assert_int_equal(PARSE(floe_cred_parse_sso_cache, "junk", 0, "", &tok, &err), FLOE_E_AUTH);

    struct floe_cred_values v = {0};
    const char role[] = "{\"roleCredentials\": {\"accessKeyId\": \"A\", \"secretAccessKey\": "
                        "\"S\", \"sessionToken\": \"T\", \"expiration\": 1796374800000}}";
    assert_int_equal(PARSE(floe_cred_parse_sso_role, role, &v, &err), FLOE_OK);
    assert_string_equal(v.session_token, "T");
    assert_int_equal(v.expiration, 1796374800);
    floe_cred_values_free(&v);
    assert_int_equal(PARSE(floe_cred_parse_sso_role, "{\"roleCredentials\": {}}", &v, &err),
                     FLOE_E_AUTH);

    const char imds[] = "{\"Code\": \"Success\", \"LastUpdated\": \"2026-12-04T08:00:00Z\", "
                        "\"Type\": \"AWS-HMAC\", \"AccessKeyId\": \"A\", \"SecretAccessKey\": "
                        "\"S\", \"Token\": \"T\", \"Expiration\": \"2026-12-04T09:00:00Z\"}";
    assert_int_equal(PARSE(floe_cred_parse_metadata, imds, "imds", &v, &err), FLOE_OK);
    assert_string_equal(v.session_token, "T");
    assert_int_equal(v.expiration, 1796374800);
    floe_cred_values_free(&v);
    assert_int_equal(PARSE(floe_cred_parse_metadata, "{\"Code\": \"AssumeRoleUnauthorizedAccess\"}",
                           "imds", &v, &err),
                     FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "not Success"));
    assert_int_equal(
        PARSE(floe_cred_parse_metadata, "{\"AccessKeyId\": \"A\"", "container", &v, &err),
        FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "container: the answer is not a JSON object"));
}

/* ---- the chain with a fake environment ---- */

static void clear_env(const char *cred, const char *conf)
{
    const char *vars[] = {"AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",
                          "AWS_PROFILE",
                          "AWS_DEFAULT_PROFILE",
                          "AWS_WEB_IDENTITY_TOKEN_FILE",
                          "AWS_ROLE_ARN",
                          "AWS_ROLE_SESSION_NAME",
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "AWS_REGION",
                          NULL};
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    char *a = t_write_temp("credentials", cred, strlen(cred));
    char *b = t_write_temp("config", conf, strlen(conf));
    setenv("AWS_SHARED_CREDENTIALS_FILE", a, 1);
    setenv("AWS_CONFIG_FILE", b, 1);
    free(a);
    free(b);
}

/* Resolves with profile (NULL = none named) and returns the winning kind, or -status. */
static int resolve(const char *profile, struct floe_cred_source **out, struct floe_error *err)
{
    struct floe_credentials_options o = {.profile = profile, .profile_explicit = profile != NULL};
    struct floe_cred_source *s = NULL;
    int rc = floe_cred_source_resolve(&o, &s, err);
    if (rc)
        return -rc;
    int kind = (int)s->kind;
    if (out)
        *out = s;
    else
        floe_cred_source_free(s);
    return kind;
}

static const char CREDS[] = "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = skdef\n"
                            "[both]\naws_access_key_id = AKBOTH\naws_secret_access_key = skboth\n"
                            "[base]\naws_access_key_id = AKBASE\naws_secret_access_key = skbase\n"
                            "[self]\naws_access_key_id = AKSELF\naws_secret_access_key = sks\n";
static const char CONF[] =
    "[profile both]\ncredential_process = /bin/false\n"
    "[profile proc]\ncredential_process = echo hi\naws_access_key_id = AKC\n"
    "aws_secret_access_key = skc\n"
    "[profile confkeys]\naws_access_key_id = AKC\naws_secret_access_key = skc\n"
    "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = base\n"
    "external_id = ext\nrole_session_name = sess\nduration_seconds = 900\nregion = eu-west-1\n"
    "[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/c\nsource_profile = role\n"
    "[profile self]\nrole_arn = arn:aws:iam::123456789012:role/s\nsource_profile = self\n"
    "[profile loopa]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loopb\n"
    "[profile loopb]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loopa\n"
    "[profile envsrc]\nrole_arn = arn:aws:iam::1:role/e\ncredential_source = Environment\n"
    "[profile imdssrc]\nrole_arn = arn:aws:iam::1:role/i\ncredential_source = Ec2InstanceMetadata\n"
    "[profile badsrc]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = Lambda\n"
    "[profile nosrc]\nrole_arn = arn:aws:iam::1:role/x\n"
    "[profile mfa]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = base\n"
    "mfa_serial = arn:aws:iam::1:mfa/u\n"
    "[profile web]\nrole_arn = arn:aws:iam::1:role/w\nweb_identity_token_file = /tmp/t\n"
    "[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = R\n"
    "[sso-session corp]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = eu-west-1\n"
    "[profile ssolegacy]\nsso_start_url = https://d-2.awsapps.com/start\nsso_region = us-east-2\n"
    "sso_account_id = 1\nsso_role_name = R\n"
    "[profile ssobad]\nsso_session = nosuch\nsso_account_id = 1\nsso_role_name = R\n"
    "[profile empty]\nregion = eu-west-1\n";

static void test_credentials_chain_order(void **state)
{
    (void)state;
    clear_env(CREDS, CONF);
    struct floe_error err = {0};
    struct floe_cred_source *s = NULL;
    /* the default profile's static keys */
    assert_int_equal(resolve(NULL, &s, &err), FLOE_CRED_STATIC);
    assert_string_equal(s->keys.access_key_id, "AKDEF");
    floe_cred_source_free(s);
    /* the environment beats the profile, unless the profile was named on the command line */
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "skenv", 1);
    setenv("AWS_SESSION_TOKEN", "tokenv", 1);
    assert_int_equal(resolve(NULL, &s, &err), FLOE_CRED_STATIC);
    assert_string_equal(s->desc, "environment");
    assert_string_equal(s->keys.session_token, "tokenv");
    floe_cred_source_free(s);
    assert_int_equal(resolve("both", &s, &err), FLOE_CRED_STATIC);
    assert_string_equal(s->keys.access_key_id, "AKBOTH"); /* credentials file before process */
    floe_cred_source_free(s);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(resolve(NULL, NULL, &err), -FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "but AWS_SECRET_ACCESS_KEY is not"));
    unsetenv("AWS_ACCESS_KEY_ID");
    /* credential_process before the config file's static keys */
    assert_int_equal(resolve("proc", &s, &err), FLOE_CRED_PROCESS);
    assert_string_equal(s->command, "echo hi");
    floe_cred_source_free(s);
    assert_int_equal(resolve("confkeys", &s, &err), FLOE_CRED_STATIC);
    assert_string_equal(s->desc, "profile confkeys: config file");
    floe_cred_source_free(s);
    /* web identity from the environment (EKS) beats a profile's static keys */
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token", 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/eks", 1);
    setenv("AWS_ROLE_SESSION_NAME", "pod", 1);
    assert_int_equal(resolve(NULL, &s, &err), FLOE_CRED_WEB_IDENTITY);
    assert_string_equal(s->role.arn, "arn:aws:iam::1:role/eks");
    assert_string_equal(s->role.session_name, "pod");
    assert_string_equal(s->token_file, "/var/run/token");
    floe_cred_source_free(s);
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    /* SSO, new and legacy */
    assert_int_equal(resolve("sso", &s, &err), FLOE_CRED_SSO);
    assert_string_equal(s->sso.cache_key, "corp");
    assert_string_equal(s->sso.region, "eu-west-1");
    assert_string_equal(s->sso.account_id, "111122223333");
    floe_cred_source_free(s);
    assert_int_equal(resolve("ssolegacy", &s, &err), FLOE_CRED_SSO);
    assert_string_equal(s->sso.cache_key, "https://d-2.awsapps.com/start");
    assert_string_equal(s->sso.region, "us-east-2");
    floe_cred_source_free(s);
    assert_int_equal(resolve("ssobad", NULL, &err), -FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "no [sso-session nosuch] section"));
    /* nothing: the error lists what was tried; a named profile without keys says so */
    clear_env("", "");
    assert_int_equal(resolve(NULL, NULL, &err), -FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "no AWS credentials found: tried the environment"));
    assert_non_null(strstr(err.message, "instance metadata (AWS_EC2_METADATA_DISABLED)"));
    assert_int_equal(resolve("nosuch", NULL, &err), -FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "the profile \"nosuch\" is in neither"));
    clear_env(CREDS, CONF);
    assert_int_equal(resolve("empty", NULL, &err), -FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "profile \"empty\" has no credentials"));
    /* container after the profile; instance metadata last, when not disabled */
    clear_env("", "");
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x", 1);
    assert_int_equal(resolve(NULL, NULL, &err), FLOE_CRED_CONTAINER);
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_EC2_METADATA_DISABLED");
    assert_int_equal(resolve(NULL, NULL, &err), FLOE_CRED_IMDS);
    /* the local floe-vault: no instance sources, its pair as the fallback */
    struct floe_credentials_options o = {.no_instance_sources = true,
                                         .fallback_access_key_id = "AKLOCAL",
                                         .fallback_secret_access_key = "sklocal"};
    assert_int_equal(floe_cred_source_resolve(&o, &s, &err), FLOE_OK);
    assert_int_equal(s->kind, FLOE_CRED_STATIC);
    assert_string_equal(s->keys.access_key_id, "AKLOCAL");
    floe_cred_source_free(s);
}

static void test_credentials_roles_and_loops(void **state)
{
    (void)state;
    clear_env(CREDS, CONF);
    struct floe_error err = {0};
    struct floe_cred_source *s = NULL;
    assert_int_equal(resolve("role", &s, &err), FLOE_CRED_ASSUME_ROLE);
    assert_string_equal(s->role.arn, "arn:aws:iam::123456789012:role/r");
    assert_string_equal(s->role.external_id, "ext");
    assert_string_equal(s->role.session_name, "sess");
    assert_int_equal(s->role.duration_s, 900);
    assert_string_equal(s->role.region, "eu-west-1");
    assert_int_equal(s->base->kind, FLOE_CRED_STATIC);
    assert_string_equal(s->base->keys.access_key_id, "AKBASE");
    floe_cred_source_free(s);
    /* role chaining: chained -> role -> base */
    assert_int_equal(resolve("chained", &s, &err), FLOE_CRED_ASSUME_ROLE);
    assert_int_equal(s->base->kind, FLOE_CRED_ASSUME_ROLE);
    assert_string_equal(s->base->base->keys.access_key_id, "AKBASE");
    floe_cred_source_free(s);
    /* a profile that is its own source uses its static keys */
    assert_int_equal(resolve("self", &s, &err), FLOE_CRED_ASSUME_ROLE);
    assert_string_equal(s->base->keys.access_key_id, "AKSELF");
    floe_cred_source_free(s);
    assert_int_equal(resolve("loopa", NULL, &err), -FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "source_profile loop: loopa -> loopb -> loopa"));
    /* credential_source */
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "skenv", 1);
    assert_int_equal(resolve("envsrc", &s, &err), FLOE_CRED_ASSUME_ROLE);
    assert_string_equal(s->base->keys.access_key_id, "AKENV");
    floe_cred_source_free(s);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(resolve("envsrc", NULL, &err), -FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "credential_source Environment, but"));
    assert_int_equal(resolve("imdssrc", &s, &err), FLOE_CRED_ASSUME_ROLE);
    assert_int_equal(s->base->kind, FLOE_CRED_IMDS);
    floe_cred_source_free(s);
    assert_int_equal(resolve("badsrc", NULL, &err), -FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "\"Lambda\" is not Environment"));
    assert_int_equal(resolve("nosrc", NULL, &err), -FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "has role_arn but no source_profile"));
    assert_int_equal(resolve("mfa", NULL, &err), -FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "profile mfa has mfa_serial"));
    assert_int_equal(resolve("web", &s, &err), FLOE_CRED_WEB_IDENTITY);
    assert_string_equal(s->token_file, "/tmp/t");
    floe_cred_source_free(s);
}

static void test_credentials_refresh_schedule(void **state)
{
    (void)state;
    /* an hour's keys: 10 minutes before they expire */
    assert_int_equal(floe_credentials_due(1000, 1000 + 3600, 600), 1000 + 3000);
    /* 90-second keys: after half their life, not in a loop */
    assert_int_equal(floe_credentials_due(1000, 1090, 600), 1045);
    /* keys that are already expired: no sooner than 5 s after the fetch */
    assert_int_equal(floe_credentials_due(1000, 900, 600), 1005);
    setenv("FLOE_CREDENTIALS_REFRESH_MARGIN_S", "30", 1);
    assert_int_equal(floe_credentials_margin_s(), 30);
    setenv("FLOE_CREDENTIALS_REFRESH_MARGIN_S", "junk", 1);
    assert_int_equal(floe_credentials_margin_s(), 600);
    unsetenv("FLOE_CREDENTIALS_REFRESH_MARGIN_S");
}

/* A provider from a credential_process script that hands out 8-second keys numbered by a
 * counter file: the refresh thread replaces them after ~4 s, a signer holding the old snapshot
 * keeps it, and an ExpiredToken forces a refresh at once. */
static void test_credentials_provider_refresh(void **state)
{
    (void)state;
    char script[4096], counter[1100];
    snprintf(counter, sizeof(counter), "%s/counter", t_temp_dir());
    int n = snprintf(script, sizeof(script),
                     "#!/bin/sh\nc=$(cat %s 2>/dev/null || echo 0); c=$((c+1)); echo $c > %s\n"
                     "exp=$(date -u -d @$(( $(date +%%s) + 8 )) +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n"
                     "printf '{\"Version\": 1, \"AccessKeyId\": \"AK%%s\", \"SecretAccessKey\": "
                     "\"sk\", \"SessionToken\": \"tok%%s\", \"Expiration\": \"%%s\"}' $c $c $exp\n",
                     counter, counter);
    char *sp = t_write_temp("proc.sh", script, (size_t)n);
    chmod(sp, 0700);
    char conf[1200];
    n = snprintf(conf, sizeof(conf), "[profile p]\ncredential_process = %s\n", sp);
    clear_env("", conf);
    struct floe_credentials_options o = {.profile = "p", .profile_explicit = true};
    struct floe_credentials *p = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_credentials_new_chain(&o, &p, &err), FLOE_OK);
    struct floe_creds_snap *first = floe_credentials_acquire(p);
    assert_string_equal(first->access_key_id, "AK1");
    assert_string_equal(first->session_token, "tok1");
    assert_int_equal(first->gen, 1);
    struct floe_credentials_info info;
    for (int i = 0; i < 100; i++) { /* due 4 s after the fetch */
        floe_credentials_describe(p, &info);
        if (info.fetches >= 2)
            break;
        usleep(100 * 1000);
    }
    assert_true(info.fetches >= 2);
    assert_string_equal(info.source, "profile p: credential_process");
    struct floe_creds_snap *second = floe_credentials_acquire(p);
    assert_true(second->gen >= 2);
    assert_string_equal(first->access_key_id, "AK1"); /* the old snapshot is intact */
    floe_creds_snap_release(first);
    /* ExpiredToken on the current generation: refreshed now */
    assert_true(floe_credentials_expired(p, second->gen));
    struct floe_creds_snap *third = floe_credentials_acquire(p);
    assert_true(third->gen > second->gen);
    /* an old generation: nothing to do, newer keys are there */
    assert_true(floe_credentials_expired(p, second->gen));
    floe_creds_snap_release(second);
    floe_creds_snap_release(third);
    floe_credentials_destroy(p);
    free(sp);
}

static void test_credentials_process_errors(void **state)
{
    (void)state;
    struct {
        const char *body, *msg;
    } cases[] = {
        {"echo 'no such role' >&2; exit 3", "exited with status 3"},
        {"echo garbage", "not a JSON object"},
        {"echo '{\"Version\": 2}'", "\"Version\" must be 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char conf[600];
        snprintf(conf, sizeof(conf), "[profile p]\ncredential_process = %s\n", cases[i].body);
        clear_env("", conf);
        struct floe_credentials_options o = {.profile = "p", .profile_explicit = true};
        struct floe_credentials *p = NULL;
        struct floe_error err = {0};
        assert_int_equal(floe_credentials_new_chain(&o, &p, &err), FLOE_E_AUTH);
        assert_non_null(strstr(err.message, "profile p: credential_process"));
        assert_non_null(strstr(err.message, cases[i].msg));
        assert_null(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_time),
        cmocka_unit_test(test_credentials_process_json),
        cmocka_unit_test(test_credentials_sts_xml),
        cmocka_unit_test(test_credentials_sso_and_metadata),
        cmocka_unit_test(test_credentials_chain_order),
        cmocka_unit_test(test_credentials_roles_and_loops),
        cmocka_unit_test(test_credentials_refresh_schedule),
        cmocka_unit_test(test_credentials_provider_refresh),
        cmocka_unit_test(test_credentials_process_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
