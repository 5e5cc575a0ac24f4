/*
 * argparse.c - shared option parsing for the retrieval-side commands (see argparse.h).
 */
#include "argparse.h"

#include "need.h"

#include "common.h"
#include "floe/range.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct floe_cli_opt *find(const struct floe_cli_opt *opts, const char *a, size_t n)
{
    for (const struct floe_cli_opt *o = opts; o && o->name; o++) {
        if (strlen(o->name) == n && strncmp(o->name, a, n) == 0)
            return o;
        if (o->alias && strlen(o->alias) == n && strncmp(o->alias, a, n) == 0)
            return o;
    }
    return NULL;
}

/* An archive, job or upload id: at least 40 characters of the URL-safe base64 alphabet. No
 * option is that long, so such a token is taken as the positional id even when it starts with
 * '-' (ids from the service do; aws users must write --archive-id=-... for them). */
static bool looks_like_id(const char *a)
{
    size_t n = strlen(a);
    if (n < 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= 'a' && a[i] <= 'z') ||
              (a[i] >= '0' && a[i] <= '9') || a[i] == '-' || a[i] == '_'))
            return false;
    return true;
}

int floe_cli_parse(const char *cmd, const char *usage, int argc, char **argv, int start,
                   const struct floe_cli_opt *opts, const char **pos, int max_pos, int *npos)
{
    bool dashdash = false;
    *npos = 0;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
            continue;
        }
        if (!dashdash && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            printf("usage: %s\n", usage);
            return -1;
        }
        if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*npos >= max_pos)
                return floe_cli_usage_error(cmd, usage, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        const struct floe_cli_opt *o = find(opts, a, n);
        if (!o && looks_like_id(a)) { /* Glacier ids may start with '-' (or "--") */
            if (*npos >= max_pos)
                return floe_cli_usage_error(cmd, usage, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        if (!o)
            return floe_cli_usage_error(cmd, usage, "unknown option '%.*s'", (int)n, a);
        if (o->flag) {
            if (eq && !o->value)
                return floe_cli_usage_error(cmd, usage, "%s takes no value", o->name);
            *o->flag = true;
            if (eq)
                *o->value = eq + 1;
            continue;
        }
        if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            return floe_cli_usage_error(cmd, usage, "%s needs a value", o->name);
        }
    }
    return 0;
}

int floe_cli_take_list(const char *cmd, const char *usage, int argc, char **argv, int start,
                       const char *const *names, struct floe_cli_list *list)
{
    int out = start;
    bool dashdash = false;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        dashdash = dashdash || strcmp(a, "--") == 0;
        const char *name = NULL, *value = NULL;
        for (size_t k = 0; !dashdash && names[k] && !name; k++) {
            size_t n = strlen(names[k]);
            if (strncmp(a, names[k], n) == 0 && (a[n] == '\0' || a[n] == '='))
                name = names[k];
        }
        if (!name) {
            argv[out++] = argv[i];
            continue;
        }
        value = strchr(a, '=');
        if (value)
            value++;
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            floe_cli_usage_error(cmd, usage, "%s needs a value", name);
            return -2;
        }
        list->items = floe_cli_need(realloc(list->items, (list->n + 1) * sizeof(*list->items)));
        list->items[list->n].name = name;
        list->items[list->n++].value = value;
    }
    return out;
}

char **floe_cli_filter_rules(const struct floe_cli_list *l)
{
    char **rules = floe_cli_need(calloc(l->n ? l->n : 1, sizeof(char *)));
    for (size_t i = 0; i < l->n; i++) {
        const char *name = l->items[i].name, *v = l->items[i].value;
        const char *prefix = strcmp(name, "--include") == 0   ? "+ "
                             : strcmp(name, "--exclude") == 0 ? "- "
                                                              : "";
        size_t n = strlen(prefix) + strlen(v) + 1;
        rules[i] = floe_cli_need(malloc(n));
        snprintf(rules[i], n, "%s%s", prefix, v);
    }
    return rules;
}

void floe_cli_filter_rules_free(char **rules, size_t n)
{
    for (size_t i = 0; rules && i < n; i++)
        free(rules[i]);
    free(rules);
}

int floe_cli_parse_size(const char *cmd, const char *usage, const char *name, const char *v,
                        uint64_t *out)
{
    struct floe_error err = {0};
    if (floe_range_parse_size(v, out, &err) != FLOE_OK)
        return floe_cli_usage_error(cmd, usage, "%s: %s", name, err.message);
    return 0;
}

int floe_cli_parse_uint(const char *cmd, const char *usage, const char *name, const char *v,
                        uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || v[0] == '-' || n > max)
        return floe_cli_usage_error(cmd, usage,
                                    "%s must be a whole number from 0 to %llu, not \"%s\"", name,
                                    (unsigned long long)max, v);
    *out = n;
    return 0;
}

int floe_cli_parse_seconds(const char *cmd, const char *usage, const char *name, const char *v,
                           uint64_t *ms)
{
    char *end = NULL;
    double s = strtod(v, &end);
    if (!*v || *end || !(s >= 0) || s > 1e9)
        return floe_cli_usage_error(cmd, usage, "%s must be a number of seconds, not \"%s\"", name,
                                    v);
    *ms = (uint64_t)(s * 1000);
    return 0;
}

int floe_cli_parse_duration(const char *cmd, const char *usage, const char *name, const char *v,
                            uint64_t *ms)
{
    char *end = NULL;
    double n = strtod(v, &end);
    double unit = 60000; /* minutes */
    if (end != v && *end && !end[1]) {
        unit = *end == 's' ? 1000 : *end == 'm' ? 60000 : *end == 'h' ? 3600000 : -1;
        end++;
    }
    double total = n * unit;
    if (end == v || *end || unit < 0 || !(n >= 0) || total > 30.0 * 86400000)
        return floe_cli_usage_error(cmd, usage,
                                    "%s must be a duration such as 90s, 10m or 2h (a bare number "
                                    "is minutes; at most 30 days), not \"%s\"",
                                    name, v);
    *ms = (uint64_t)(total + 0.5);
    return 0;
}

uint32_t floe_cli_interval_ms(uint64_t ms)
{
    return ms > 3600000 ? 3600000u : (uint32_t)ms;
}
