/*
 * mprices.c - see mprices.h. The JSON document is read with jansson.
 */
#include "mprices.h"

#include "prices.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* S3's prices per storage class; the date, region and retrieval tiers are those of the one
 * table every estimate uses (floe/prices.h). */
static const struct floe_mprices s_s3 = {
    .s3 = {{"STANDARD", 0.005, 0.023},
           {"STANDARD_IA", 0.01, 0.0125},
           {"GLACIER_IR", 0.02, 0.004},
           {"GLACIER", 0.03, 0.0036},
           {"DEEP_ARCHIVE", 0.05, 0.00099}},
};

_Static_assert(FLOE_MPRICES_TIERS == FLOE_PRICES_TIERS, "one retrieval tier table");

void floe_mprices_default(struct floe_mprices *out)
{
    const struct floe_prices *p = floe_prices_default();
    *out = s_s3;
    snprintf(out->as_of, sizeof(out->as_of), "%s", p->as_of);
    snprintf(out->region, sizeof(out->region), "%s", p->region);
    for (int i = 0; i < FLOE_MPRICES_TIERS; i++) {
        out->tier[i].name = p->retrieval[i].tier;
        out->tier[i].per_gb_usd = p->retrieval[i].per_gb_usd;
        out->tier[i].per_1000_requests_usd = p->retrieval[i].per_1000_requests_usd;
        out->tier[i].hours = p->retrieval[i].typical_hours;
    }
}

int floe_mprices_tier(const char *name)
{
    const struct floe_prices *p = floe_prices_default();
    for (int i = 0; name && i < FLOE_MPRICES_TIERS; i++)
        if (strcasecmp(name, p->retrieval[i].tier) == 0)
            return i;
    return -1;
}

/* Sets the prices of an object of numbers: keys[i] -> *vals[i]. */
static int numbers(const char *path, const char *where, json_t *o, const char *const *keys,
                   double *const *vals, int n, struct floe_error *err)
{
    if (!json_is_object(o))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "prices file %s: %s must be an object", path,
                              where);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int i = 0;
        while (i < n && strcmp(keys[i], k) != 0)
            i++;
        if (i == n)
            return floe_error_set(err, FLOE_E_INVALID_ARG, "prices file %s: unknown key %s.%s",
                                  path, where, k);
        if (!json_is_number(v) || json_number_value(v) < 0)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "prices file %s: %s.%s must be a number >= 0", path, where, k);
        *vals[i] = json_number_value(v);
    }
    return FLOE_OK;
}

static int load_tiers(const char *path, json_t *o, struct floe_mprices *p, struct floe_error *err)
{
    static const char *const keys[] = {"per_gb_usd", "per_1000_requests_usd", "hours"};
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "prices file %s: retrieval must be an object", path);
    json_object_foreach(o, k, v)
    {
        int t = floe_mprices_tier(k);
        if (t < 0)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "prices file %s: unknown tier retrieval.%s (Expedited, "
                                  "Standard or Bulk)",
                                  path, k);
        double *vals[] = {&p->tier[t].per_gb_usd, &p->tier[t].per_1000_requests_usd,
                          &p->tier[t].hours};
        int rc = numbers(path, k, v, keys, vals, 3, err);
        if (rc)
            return rc;
    }
    return FLOE_OK;
}

static int load_classes(const char *path, json_t *o, struct floe_mprices *p, struct floe_error *err)
{
    static const char *const keys[] = {"per_1000_puts_usd", "per_gb_month_usd"};
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "prices file %s: s3 must be an object",
                              path);
    json_object_foreach(o, k, v)
    {
        int c = 0;
        while (c < FLOE_MPRICES_CLASSES && strcmp(p->s3[c].name, k) != 0)
            c++;
        if (c == FLOE_MPRICES_CLASSES)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "prices file %s: unknown storage class s3.%s", path, k);
        double *vals[] = {&p->s3[c].per_1000_puts_usd, &p->s3[c].per_gb_month_usd};
        int rc = numbers(path, k, v, keys, vals, 2, err);
        if (rc)
            return rc;
    }
    return FLOE_OK;
}

int floe_mprices_load(const char *path, struct floe_mprices *out, struct floe_error *err)
{
    struct floe_mprices p;
    floe_mprices_default(&p);
    json_error_t je;
    FILE *f = fopen(path, "r");
    if (!f)
        return floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open prices file %s",
                                    path);
    json_t *root = json_loadf(f, 0, &je);
    fclose(f);
    if (!root)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "prices file %s: line %d: %s", path, je.line,
                              je.text);
    int rc = FLOE_OK;
    const char *k;
    json_t *v;
    if (!json_is_object(root))
        rc =
            floe_error_set(err, FLOE_E_INVALID_ARG, "prices file %s: expected a JSON object", path);
    else
        json_object_foreach(root, k, v)
        {
            if (rc)
                break;
            if (strcmp(k, "as_of") == 0 || strcmp(k, "region") == 0) {
                char *dst = k[0] == 'a' ? p.as_of : p.region;
                size_t cap = k[0] == 'a' ? sizeof(p.as_of) : sizeof(p.region);
                if (!json_is_string(v) || strlen(json_string_value(v)) >= cap)
                    rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                        "prices file %s: %s must be a string of at most %zu "
                                        "characters",
                                        path, k, cap - 1);
                else
                    snprintf(dst, cap, "%s", json_string_value(v));
            } else if (strcmp(k, "retrieval") == 0) {
                rc = load_tiers(path, v, &p, err);
            } else if (strcmp(k, "s3") == 0) {
                rc = load_classes(path, v, &p, err);
            } else {
                rc = floe_error_set(err, FLOE_E_INVALID_ARG, "prices file %s: unknown key %s", path,
                                    k);
            }
        }
    json_decref(root);
    if (!rc)
        *out = p;
    return rc;
}
