/*
 * mname.c - see mname.h. The description formats are parsed by the backup room's modules
 * (describe.c for floe1, mtglacier.c for mt2); this module only turns what they say into a
 * safe relative path.
 */
#include "mname.h"

#include "describe.h"
#include "floe/error.h"
#include "mtglacier.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define COMPONENT_MAX 255

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Appends one sanitised component [s, s+n) to out (used bytes *o), after a '_' when mark;
 * false when full. */
static bool add_component(const unsigned char *s, size_t n, bool mark, char *out, size_t *o)
{
    char comp[COMPONENT_MAX * 3 + 8];
    size_t c = 0;
    if (mark)
        comp[c++] = '_';
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(s + i, n - i);
        bool escape = l == 0 || s[i] < 0x20 || s[i] == 0x7f;
        size_t need = escape ? 3 : l;
        if (c + need > COMPONENT_MAX)
            break;
        if (escape) {
            snprintf(comp + c, 4, "%%%02X", s[i]);
            i++;
        } else {
            memcpy(comp + c, s + i, l);
            i += l;
        }
        c += need;
    }
    if (c == 0)
        return true;
    size_t sep = *o ? 1 : 0;
    if (*o + sep + c > FLOE_MNAME_MAX)
        return false;
    if (sep)
        out[(*o)++] = '/';
    memcpy(out + *o, comp, c);
    *o += c;
    out[*o] = '\0';
    return true;
}

void floe_mname_sanitise(const char *name, char out[FLOE_MNAME_CAP])
{
    size_t o = 0;
    out[0] = '\0';
    const unsigned char *s = (const unsigned char *)name;
    while (*s) {
        const unsigned char *e = s;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - s);
        bool skip = n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
        bool mark =
            o == 0 && n == strlen(FLOE_MNAME_STATE_DIR) && memcmp(s, FLOE_MNAME_STATE_DIR, n) == 0;
        if (!skip && !add_component(s, n, mark, out, &o))
            break;
        s = *e ? e + 1 : e;
    }
}

void floe_mname_from_description(const char *description, const char *archive_id,
                                 char out[FLOE_MNAME_CAP], bool *by_id)
{
    char buf[4200 + FLOE_MTGLACIER_DESC_MAX];
    struct floe_description d;
    const char *desc = description ? description : "";
    floe_describe_parse(desc, &d);
    buf[0] = '\0';
    if (d.kind == FLOE_DESC_FILE) {
        snprintf(buf, sizeof(buf), "%s", d.path);
    } else if (d.kind == FLOE_DESC_PACK) {
        snprintf(buf, sizeof(buf), "floe-packs/%08x-%llu-%llu.pack", d.set,
                 (unsigned long long)d.run, (unsigned long long)d.seq);
    } else if (d.kind == FLOE_DESC_CATALOG) {
        snprintf(buf, sizeof(buf), "floe-catalogs/%08x-%llu.catalog", d.set,
                 (unsigned long long)d.run);
    } else {
        char fname[FLOE_MTGLACIER_DESC_MAX];
        int64_t mtime;
        struct floe_error e = {0};
        if (floe_mtglacier_mt2_decode(desc, fname, &mtime, &e) == FLOE_OK)
            snprintf(buf, sizeof(buf), "%s", fname);
        else
            snprintf(buf, sizeof(buf), "%s", desc);
    }
    floe_mname_sanitise(buf, out);
    *by_id = out[0] == '\0';
    if (*by_id)
        floe_mname_sanitise(archive_id, out);
}

void floe_mname_with_suffix(const char *name, const char *suffix, char out[FLOE_MNAME_CAP])
{
    const char *last = strrchr(name, '/');
    last = last ? last + 1 : name;
    const char *dot = strrchr(last, '.');
    if (!dot || dot == last) /* no extension, or a dot file */
        dot = last + strlen(last);
    int head = (int)(dot - name);
    snprintf(out, FLOE_MNAME_CAP, "%.*s.%s%s", head, name, suffix, dot);
}

void floe_mname_date_suffix(const char *iso, char out[32])
{
    size_t o = 0;
    for (const char *p = iso; *p && o < 15; p++) {
        if (*p >= '0' && *p <= '9') {
            out[o++] = *p;
            if (o == 8)
                out[o++] = 'T';
        } else if (*p == '.') {
            break; /* fractions of a second are left out */
        }
    }
    if (o == 15)
        out[o++] = 'Z';
    else
        o = 0;
    out[o] = '\0';
}
