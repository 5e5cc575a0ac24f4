/*
 * awsini.c - reading the AWS shared credentials and config files (awsini.h).
 */
#include "floe/awsini.h"

#include "alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* Does a "<word> <name>" header (any spacing) name this section? */
static bool prefixed_is(const char *sec, const char *word, const char *name)
{
    size_t wl = strlen(word);
    if (strncmp(sec, word, wl) != 0 || !isspace((unsigned char)sec[wl]))
        return false;
    const char *n = sec + wl;
    while (isspace((unsigned char)*n))
        n++;
    return strcmp(n, name) == 0;
}

/* Is the (trimmed) header text the section wanted? The credentials file names a profile bare
 * ([dev]); the config file as [profile dev], and the default profile as [default] or [profile
 * default]; SSO sessions as [sso-session name]. */
static bool section_is(const char *sec, enum floe_awsini_kind kind, const char *name)
{
    switch (kind) {
    case FLOE_AWSINI_CREDENTIALS: return strcmp(sec, name) == 0;
    case FLOE_AWSINI_CONFIG:
        return (strcmp(name, "default") == 0 && strcmp(sec, name) == 0) ||
               prefixed_is(sec, "profile", name);
    case FLOE_AWSINI_SSO_SESSION: return prefixed_is(sec, "sso-session", name);
    }
    return false;
}

char *floe_awsini_get(const char *path, enum floe_awsini_kind kind, const char *name,
                      const char *key, bool *found_section)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    bool in = false;
    char *val = NULL;
    while (getline(&line, &cap, f) >= 0) {
        if (line[0] == ' ' || line[0] == '\t')
            continue; /* nested value */
        char *s = trim(line);
        if (*s == '#' || *s == ';' || *s == 0)
            continue;
        if (*s == '[') {
            char *end = strrchr(s, ']');
            if (end) {
                *end = 0;
                in = section_is(trim(s + 1), kind, name);
                if (in && found_section)
                    *found_section = true;
            }
            continue;
        }
        if (!in)
            continue;
        char *eq = s + strcspn(s, "=:");
        if (!*eq)
            continue;
        *eq = 0;
        char *k = trim(s);
        for (char *c = k; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (strcmp(k, key) == 0) {
            free(val);
            val = floe_xstrdup(trim(eq + 1));
        }
    }
    free(line);
    fclose(f);
    return val;
}

static char *home_file(const char *env, const char *rel)
{
    const char *p = getenv(env);
    const char *home = getenv("HOME");
    if (p && *p && p[0] == '~' && (p[1] == '/' || p[1] == 0) && home) { /* as botocore does */
        size_t n = strlen(home) + strlen(p) + 1;
        char *out = floe_xmalloc(n);
        snprintf(out, n, "%s%s", home, p + 1);
        return out;
    }
    if (p && *p)
        return floe_xstrdup(p);
    if (!home)
        return NULL;
    size_t n = strlen(home) + strlen(rel) + 2;
    char *out = floe_xmalloc(n);
    snprintf(out, n, "%s/%s", home, rel);
    return out;
}

char *floe_awsini_credentials_path(void)
{
    return home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
}

char *floe_awsini_config_path(void)
{
    return home_file("AWS_CONFIG_FILE", ".aws/config");
}
