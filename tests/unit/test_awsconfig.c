/*
 * test_awsconfig.c - profile, region and endpoint found in the aws CLI's order, with the
 * static keys the credential chain then finds for them (as floe_cli_client() asks it), and
 * the errors a user can hit (unknown profile, no credentials for a remote endpoint).
 */
#include "t_util.h"

#include "awsconfig.h"
#include "credentials.h"
#include "floe/client.h"

#include <stdlib.h>
#include <string.h>

static char *s_cred, *s_conf;

static void clear_env(void)
{
    const char *vars[] = {"AWS_ACCESS_KEY_ID",        "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",        "AWS_PROFILE",
                          "AWS_DEFAULT_PROFILE",      "AWS_REGION",
                          "AWS_DEFAULT_REGION",       "AWS_ENDPOINT_URL",
                          "AWS_ENDPOINT_URL_GLACIER", NULL};
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    setenv("AWS_SHARED_CREDENTIALS_FILE", s_cred, 1);
    setenv("AWS_CONFIG_FILE", s_conf, 1);
}

/* The keys the chain finds for what awsconfig resolved, as floe_cli_client() asks for them
 * (no metadata lookups in a unit test). */
struct keys {
    char ak[130], sk[300], tok[6000], source[160];
};

static int resolve(const struct floe_cli *cli, struct floe_awsconfig *c, struct keys *k,
                   struct floe_error *err)
{
    memset(k, 0, sizeof(*k));
    int rc = floe_awsconfig_resolve(cli, c, err);
    if (rc)
        return rc;
    bool local = strcmp(c->endpoint_url, FLOE_DEFAULT_ENDPOINT) == 0;
    struct floe_credentials_options co = {
        .profile = cli->profile,
        .profile_explicit = cli->profile != NULL,
        .region = c->region,
        .no_instance_sources = true,
        .fallback_access_key_id = local ? FLOE_LOCAL_ACCESS_KEY : NULL,
        .fallback_secret_access_key = local ? FLOE_LOCAL_SECRET_KEY : NULL,
    };
    struct floe_credentials *p;
    rc = floe_credentials_new_chain(&co, &p, err);
    if (rc)
        return rc;
    struct floe_creds_snap *s = floe_credentials_acquire(p);
    snprintf(k->ak, sizeof(k->ak), "%s", s->access_key_id);
    snprintf(k->sk, sizeof(k->sk), "%s", s->secret_access_key);
    snprintf(k->tok, sizeof(k->tok), "%s", s->session_token ? s->session_token : "");
    floe_creds_snap_release(s);
    struct floe_credentials_info info;
    floe_credentials_describe(p, &info);
    snprintf(k->source, sizeof(k->source), "%s", info.source);
    floe_credentials_destroy(p);
    return FLOE_OK;
}

static int setup(void **state)
{
    (void)state;
    const char cred[] = "# comment\n[default]\naws_access_key_id = AKDEFAULT\n"
                        "aws_secret_access_key = skdefault\n\n[work]\n"
                        "aws_access_key_id=AKWORK\naws_secret_access_key=skwork\n"
                        "aws_session_token = tokwork\n";
    const char conf[] = "[default]\nregion = eu-west-1\n[profile work]\nregion = ap-south-1\n"
                        "endpoint_url = http://127.0.0.1:7777\ns3 =\n  region = ignored\n"
                        "[profile confonly]\naws_access_key_id = AKCONF\n"
                        "aws_secret_access_key = skconf\n";
    s_cred = t_write_temp("credentials", cred, sizeof(cred) - 1);
    s_conf = t_write_temp("config", conf, sizeof(conf) - 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(s_cred);
    free(s_conf);
    t_cleanup_temp();
    return 0;
}

static void test_awsconfig_default_profile_from_files(void **state)
{
    (void)state;
    clear_env();
    struct floe_cli cli = {0};
    struct floe_awsconfig c;
    struct keys k;
    struct floe_error err = {0};
    assert_int_equal(resolve(&cli, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, "AKDEFAULT");
    assert_string_equal(k.sk, "skdefault");
    assert_string_equal(k.tok, "");
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.endpoint_url, FLOE_DEFAULT_ENDPOINT);
    floe_awsconfig_free(&c);
}

static void test_awsconfig_env_beats_files_unless_profile_given(void **state)
{
    (void)state;
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "skenv", 1);
    setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
    struct floe_cli cli = {0};
    struct floe_awsconfig c;
    struct keys k;
    struct floe_error err = {0};
    assert_int_equal(resolve(&cli, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, "AKENV");
    assert_string_equal(c.region, "us-west-2");
    assert_string_equal(k.source, "environment");
    floe_awsconfig_free(&c);
    setenv("AWS_REGION", "ca-central-1", 1); /* AWS_REGION wins over AWS_DEFAULT_REGION */
    cli.profile = "work";                    /* an explicit profile ignores env credentials */
    assert_int_equal(resolve(&cli, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, "AKWORK");
    assert_string_equal(k.tok, "tokwork");
    assert_string_equal(c.region, "ca-central-1");
    assert_string_equal(c.endpoint_url, "http://127.0.0.1:7777");
    floe_awsconfig_free(&c);
    cli.region = "sa-east-1";
    cli.endpoint_url = "http://127.0.0.1:1234";
    assert_int_equal(resolve(&cli, &c, &k, &err), FLOE_OK);
    assert_string_equal(c.region, "sa-east-1");
    assert_string_equal(c.endpoint_url, "http://127.0.0.1:1234");
    floe_awsconfig_free(&c);
}

static void test_awsconfig_profile_env_and_config_only_credentials(void **state)
{
    (void)state;
    clear_env();
    setenv("AWS_PROFILE", "confonly", 1);
    setenv("AWS_ENDPOINT_URL_GLACIER", "http://127.0.0.1:9999", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1111", 1);
    struct floe_cli cli = {0};
    struct floe_awsconfig c;
    struct keys k;
    struct floe_error err = {0};
    assert_int_equal(resolve(&cli, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, "AKCONF");
    assert_string_equal(k.source, "profile confonly: config file");
    assert_string_equal(c.region, "us-east-1"); /* no region anywhere */
    assert_string_equal(c.endpoint_url, "http://127.0.0.1:9999");
    floe_awsconfig_free(&c);
}

static void test_awsconfig_errors(void **state)
{
    (void)state;
    clear_env();
    struct floe_cli cli = {.profile = "nosuch"};
    struct floe_awsconfig c;
    struct keys k;
    struct floe_error err = {0};
    assert_int_equal(resolve(&cli, &c, &k, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "the profile \"nosuch\" is in neither"));
    floe_awsconfig_free(&c);

    /* no credentials at all: the local default endpoint gets floe-vault's default pair ... */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    struct floe_cli none = {0};
    assert_int_equal(resolve(&none, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, FLOE_LOCAL_ACCESS_KEY);
    floe_awsconfig_free(&c);
    /* ... a remote endpoint gets a clear error */
    none.endpoint_url = "https://glacier.us-east-1.amazonaws.com";
    assert_int_equal(resolve(&none, &c, &k, &err), FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "no AWS credentials found"));
    floe_awsconfig_free(&c);
}

/* Files as Python's configparser (the aws CLI's reader) reads them. */
static void test_awsconfig_configparser_forms(void **state)
{
    (void)state;
    clear_env();
    char token[5001];
    memset(token, 'T', sizeof(token) - 1);
    token[sizeof(token) - 1] = 0;
    char cred[6000];
    int n = snprintf(cred, sizeof(cred),
                     "[upper]\nAWS_ACCESS_KEY_ID = AKUP\nAws_Secret_Access_Key=skup\n"
                     "[colon]\naws_access_key_id: AKCOLON\naws_secret_access_key : skcolon\n"
                     "aws_session_token = %s\n",
                     token);
    char *credp = t_write_temp("creds2", cred, (size_t)n);
    const char conf[] = "[profile  spaced]\nregion = sa-east-1\naws_access_key_id = AKSP\n"
                        "aws_secret_access_key = sksp\n[profile default]\nregion = eu-west-3\n";
    char *confp = t_write_temp("config2", conf, sizeof(conf) - 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", credp, 1);
    setenv("AWS_CONFIG_FILE", confp, 1);
    struct floe_awsconfig c;
    struct keys k;
    struct floe_error err = {0};
    struct floe_cli up = {.profile = "upper"};
    assert_int_equal(resolve(&up, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, "AKUP");
    assert_string_equal(k.sk, "skup");
    floe_awsconfig_free(&c);
    struct floe_cli colon = {.profile = "colon"};
    assert_int_equal(resolve(&colon, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, "AKCOLON");
    assert_string_equal(k.tok, token); /* 5,000 characters, not cut */
    floe_awsconfig_free(&c);
    struct floe_cli spaced = {.profile = "spaced"};
    assert_int_equal(resolve(&spaced, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, "AKSP");
    assert_string_equal(c.region, "sa-east-1");
    floe_awsconfig_free(&c);
    struct floe_cli dflt = {0}; /* [profile default] in the config file is the default */
    assert_int_equal(resolve(&dflt, &c, &k, &err), FLOE_OK);
    assert_string_equal(c.region, "eu-west-3");
    floe_awsconfig_free(&c);
    /* ~ in the file variables is the home directory */
    char *home = strdup(credp);
    *strrchr(home, '/') = 0;
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", home, 1);
    char tilde[600];
    snprintf(tilde, sizeof(tilde), "~/%s", strrchr(credp, '/') + 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", tilde, 1);
    assert_int_equal(resolve(&up, &c, &k, &err), FLOE_OK);
    assert_string_equal(k.ak, "AKUP");
    floe_awsconfig_free(&c);
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_home);
    free(home);
    free(credp);
    free(confp);
}

static void test_awsconfig_more_errors(void **state)
{
    (void)state;
    clear_env();
    struct floe_awsconfig c;
    struct keys k;
    struct floe_error err = {0};
    struct floe_cli none = {0};
    /* one half of a key pair in the environment is an error, not a silent switch to files */
    setenv("AWS_ACCESS_KEY_ID", "AKENVONLY", 1);
    assert_int_equal(resolve(&none, &c, &k, &err), FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "AWS_SECRET_ACCESS_KEY is not"));
    floe_awsconfig_free(&c);
    clear_env();
    setenv("AWS_SECRET_ACCESS_KEY", "skenvonly", 1);
    assert_int_equal(resolve(&none, &c, &k, &err), FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "AWS_ACCESS_KEY_ID is not"));
    floe_awsconfig_free(&c);
    /* a misspelt AWS_PROFILE is an error, as in the aws CLI */
    clear_env();
    setenv("AWS_PROFILE", "nope", 1);
    assert_int_equal(resolve(&none, &c, &k, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "the profile \"nope\""));
    floe_awsconfig_free(&c);
    /* --profile naming a profile without keys: say so, not "set AWS_ACCESS_KEY_ID" */
    clear_env();
    struct floe_cli work = {.profile = "work", .endpoint_url = "https://glacier.example"};
    const char conf[] = "[profile regonly]\nregion = eu-north-1\n";
    char *confp = t_write_temp("config3", conf, sizeof(conf) - 1);
    setenv("AWS_CONFIG_FILE", confp, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", 1);
    work.profile = "regonly";
    assert_int_equal(resolve(&work, &c, &k, &err), FLOE_E_AUTH);
    assert_non_null(strstr(err.message, "profile \"regonly\" has no credentials"));
    floe_awsconfig_free(&c);
    free(confp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_awsconfig_default_profile_from_files),
        cmocka_unit_test(test_awsconfig_env_beats_files_unless_profile_given),
        cmocka_unit_test(test_awsconfig_profile_env_and_config_only_credentials),
        cmocka_unit_test(test_awsconfig_errors),
        cmocka_unit_test(test_awsconfig_configparser_forms),
        cmocka_unit_test(test_awsconfig_more_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
