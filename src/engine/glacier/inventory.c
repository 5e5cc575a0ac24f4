/*
 * inventory.c - streaming, memory-bounded parsers for vault inventories: a push JSON
 * tokenizer that recognises the inventory's shape, and a CSV reader for Glacier's
 * backslash-escaped quoting.
 *
 * DESIGN
 * Both parsers are byte-driven state machines fed chunks of any size; nothing depends on where
 * a chunk ends. Memory is the parser struct plus one growable buffer per field being built,
 * each capped at FLOE_INVENTORY_FIELD_MAX, so memory does not grow with the archive count.
 *
 * JSON: the tokenizer keeps a container stack (depth <= 64) and what may come next (a value,
 * a key, ':' or ',' or a closing bracket), so any syntax error is reported with its byte
 * offset. Tokens are handed to the inventory layer with the depth they occur at: depth 1 is
 * the top object (VaultARN, InventoryDate, ArchiveList), depth 2 the ArchiveList array, depth 3
 * one archive's fields. An archive is passed to the callback when its object closes. Values
 * under unknown keys are tokenized (so syntax is still checked) and dropped.
 *
 * CSV: states FIELD_START, UNQUOTED, QUOTED, QUOTED_BACKSLASH, AFTER_QUOTE, CR. In a quoted
 * field, backslash-quote is a literal quote and a backslash before anything else is itself
 * (Glacier does not escape backslashes), so the service's `1\\"2` reads back as `1\"2`. That
 * makes a field ending in a backslash (`"end\"`) look like an escaped quote; the reader keeps
 * the last such quote as a candidate close and, when the field then runs into a line break (a
 * description holds none) or a quote is followed by anything but a separator, reads the field
 * as ending there and the bytes since as the rest of the row. The header row maps column names
 * to positions; later rows are archives.
 */
#include "floe/inventory.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEPTH 64

struct sbuf {
    char *p;
    size_t len, cap;
};

static bool sbuf_put(struct sbuf *b, char c)
{
    if (b->len + 2 > b->cap) {
        if (b->len + 2 > FLOE_INVENTORY_FIELD_MAX)
            return false;
        size_t cap = b->cap ? b->cap * 2 : 256;
        b->p = floe_xrealloc(b->p, cap);
        b->cap = cap;
    }
    b->p[b->len++] = c;
    b->p[b->len] = 0;
    return true;
}

static void sbuf_clear(struct sbuf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}

static const char *sbuf_str(const struct sbuf *b)
{
    return b->p ? b->p : "";
}

enum lex_state { LX_WS, LX_STRING, LX_ESC, LX_UHEX, LX_NUMBER, LX_LITERAL, LX_DONE };
enum expect { EX_VALUE, EX_KEY_OR_END, EX_KEY, EX_COLON, EX_COMMA_OR_END, EX_VALUE_OR_END };
enum tok { T_OPEN_OBJ, T_OPEN_ARR, T_STRING, T_NUMBER, T_LITERAL };

enum csv_state { CS_FIELD_START, CS_UNQUOTED, CS_QUOTED, CS_QUOTED_BS, CS_AFTER_QUOTE, CS_CR };
enum col { COL_ID, COL_DESC, COL_DATE, COL_SIZE, COL_TREE, COL_COUNT };
static const char *const s_col_names[COL_COUNT] = {"ArchiveId", "ArchiveDescription",
                                                   "CreationDate", "Size", "SHA256TreeHash"};

struct floe_inventory_parser {
    enum floe_inventory_format format; /* AUTO until the first non-blank byte */
    floe_inventory_fn *fn;
    void *user;
    uint64_t offset; /* bytes consumed (during feed: the offset of the byte being read) */
    uint64_t fed;    /* bytes handed to feed */
    int failed;      /* sticky status */
    struct floe_inventory_summary sum;
    struct floe_error ferr;
    /* archive being built (both formats) */
    struct sbuf f[COL_COUNT];
    bool has_size;
    uint64_t rec_start; /* offset of the record's first byte */
    /* JSON */
    enum lex_state lx;
    enum expect ex;
    char stack[MAX_DEPTH];
    int depth;
    bool top_done;
    bool is_key;
    unsigned uhex, ucount, high_surrogate;
    struct sbuf tok;
    char key1[32], key3[32];
    bool list_seen;
    /* CSV */
    enum csv_state cs;
    struct sbuf field;
    int col;               /* index of the field being read in its row */
    int colmap[COL_COUNT]; /* column position of each known field, -1 = absent */
    int row_cols;
    bool header_done;
    bool row_started;
    /* Glacier does not escape a backslash, so a quoted field ending in one ("end\") reads as
     * an escaped quote. The last such quote of the open field is a candidate close: cand is
     * 1 + the field's length before it, raw the bytes fed since. */
    size_t cand;
    struct sbuf raw;
};

static int perr(struct floe_inventory_parser *p, const char *what)
{
    p->failed = FLOE_E_CORRUPT;
    floe_error_set(&p->ferr, FLOE_E_CORRUPT, "inventory is malformed at byte %" PRIu64 ": %s",
                   p->offset, what);
    return FLOE_E_CORRUPT;
}

static void reset_archive(struct floe_inventory_parser *p)
{
    for (int i = 0; i < COL_COUNT; i++)
        sbuf_clear(&p->f[i]);
    p->has_size = false;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Hands the archive built so far to the callback. */
static int emit_archive(struct floe_inventory_parser *p)
{
    if (p->f[COL_ID].len == 0)
        return perr(p, "an archive has no ArchiveId");
    struct floe_inventory_archive a = {
        .archive_id = sbuf_str(&p->f[COL_ID]),
        .description = sbuf_str(&p->f[COL_DESC]),
        .creation_date = sbuf_str(&p->f[COL_DATE]),
        .offset = p->rec_start,
        .end = p->offset + (p->offset < p->fed),
    };
    if (p->format == FLOE_INVENTORY_CSV) {
        if (parse_u64(sbuf_str(&p->f[COL_SIZE]), &a.size) != 0)
            return perr(p, "an archive's Size is not a whole number");
    } else {
        if (!p->has_size || parse_u64(sbuf_str(&p->f[COL_SIZE]), &a.size) != 0)
            return perr(p, "an archive has no whole-number Size");
    }
    if (p->f[COL_TREE].len) {
        if (floe_treehash_parse_hex(sbuf_str(&p->f[COL_TREE]), a.tree_hash, NULL) != FLOE_OK)
            return perr(p, "an archive's SHA256TreeHash is not 64 hex digits");
        a.has_tree_hash = true;
    }
    p->sum.archives++;
    p->sum.total_size_bytes += a.size;
    if (p->fn(&a, p->user)) {
        p->failed = FLOE_E_CANCELLED;
        floe_error_set(&p->ferr, FLOE_E_CANCELLED, "inventory parsing stopped by the caller");
        return FLOE_E_CANCELLED;
    }
    return FLOE_OK;
}

/* ---- JSON: the inventory layer ---- */

static int col_of_key(const char *k)
{
    for (int i = 0; i < COL_COUNT; i++)
        if (strcmp(k, s_col_names[i]) == 0)
            return i;
    return -1;
}

/* A value token at the current depth (before any push). text: string/number/literal text. */
static int on_value(struct floe_inventory_parser *p, enum tok t, const char *text)
{
    int d = p->depth;
    if (d == 0) {
        if (t != T_OPEN_OBJ)
            return perr(p, "an inventory is a JSON object");
        return FLOE_OK;
    }
    if (d == 1) {
        if (strcmp(p->key1, "ArchiveList") == 0) {
            if (t == T_OPEN_ARR)
                p->list_seen = true;
            else if (!(t == T_LITERAL && strcmp(text, "null") == 0))
                return perr(p, "ArchiveList is not an array");
        } else if (t == T_STRING && strcmp(p->key1, "VaultARN") == 0) {
            snprintf(p->sum.vault_arn, sizeof(p->sum.vault_arn), "%s", text);
        } else if (t == T_STRING && strcmp(p->key1, "InventoryDate") == 0) {
            snprintf(p->sum.inventory_date, sizeof(p->sum.inventory_date), "%s", text);
        }
        return FLOE_OK;
    }
    if (d == 2 && p->stack[1] == 'a' && strcmp(p->key1, "ArchiveList") == 0) {
        if (t != T_OPEN_OBJ)
            return perr(p, "an ArchiveList item is not an object");
        reset_archive(p);
        p->rec_start = p->offset;
        return FLOE_OK;
    }
    if (d == 3 && p->stack[1] == 'a' && p->stack[2] == 'o' && strcmp(p->key1, "ArchiveList") == 0) {
        int c = col_of_key(p->key3);
        if (c < 0)
            return FLOE_OK;
        if (c == COL_SIZE) {
            if (t != T_NUMBER && t != T_STRING)
                return perr(p, "an archive's Size is not a number");
            p->has_size = true;
        } else if (t != T_STRING) {
            if (t == T_LITERAL && strcmp(text, "null") == 0)
                return FLOE_OK;
            return perr(p, "an archive field is not a string");
        }
        sbuf_clear(&p->f[c]);
        for (const char *s = text; *s; s++)
            if (!sbuf_put(&p->f[c], *s))
                return perr(p, "a field is longer than 1 MiB");
    }
    return FLOE_OK;
}

static int on_close(struct floe_inventory_parser *p, char kind)
{
    /* depth is already popped */
    if (kind == 'o' && p->depth == 2 && p->stack[1] == 'a' && strcmp(p->key1, "ArchiveList") == 0)
        return emit_archive(p);
    if (p->depth == 0)
        p->top_done = true;
    return FLOE_OK;
}

static void on_key(struct floe_inventory_parser *p, const char *k)
{
    char *dst = p->depth == 1 ? p->key1 : p->depth == 3 ? p->key3 : NULL;
    if (!dst)
        return;
    if (strlen(k) >= sizeof(p->key1))
        snprintf(dst, sizeof(p->key1), "%s", "?");
    else
        snprintf(dst, sizeof(p->key1), "%s", k);
}

/* After a complete value: what may follow. */
static void after_value(struct floe_inventory_parser *p)
{
    if (p->depth == 0)
        p->ex = EX_COMMA_OR_END; /* only whitespace may follow (top_done) */
    else
        p->ex = EX_COMMA_OR_END;
}

static int value_start_ok(struct floe_inventory_parser *p)
{
    if (p->top_done)
        return perr(p, "data after the end of the document");
    if (p->ex != EX_VALUE && p->ex != EX_VALUE_OR_END)
        return perr(p, "a value where a key, ':' or ',' was expected");
    return FLOE_OK;
}

static void put_utf8(struct floe_inventory_parser *p, unsigned cp, bool *ok)
{
    if (cp < 0x80) {
        *ok = *ok && sbuf_put(&p->tok, (char)cp);
    } else if (cp < 0x800) {
        *ok = *ok && sbuf_put(&p->tok, (char)(0xc0 | (cp >> 6)));
        *ok = *ok && sbuf_put(&p->tok, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        *ok = *ok && sbuf_put(&p->tok, (char)(0xe0 | (cp >> 12)));
        *ok = *ok && sbuf_put(&p->tok, (char)(0x80 | ((cp >> 6) & 0x3f)));
        *ok = *ok && sbuf_put(&p->tok, (char)(0x80 | (cp & 0x3f)));
    } else {
        *ok = *ok && sbuf_put(&p->tok, (char)(0xf0 | (cp >> 18)));
        *ok = *ok && sbuf_put(&p->tok, (char)(0x80 | ((cp >> 12) & 0x3f)));
        *ok = *ok && sbuf_put(&p->tok, (char)(0x80 | ((cp >> 6) & 0x3f)));
        *ok = *ok && sbuf_put(&p->tok, (char)(0x80 | (cp & 0x3f)));
    }
}

static int end_scalar(struct floe_inventory_parser *p, enum tok t)
{
    const char *text = sbuf_str(&p->tok);
    if (t == T_LITERAL && strcmp(text, "true") != 0 && strcmp(text, "false") != 0 &&
        strcmp(text, "null") != 0)
        return perr(p, "unknown literal (expected true, false or null)");
    if (t == T_NUMBER) {
        char *end = NULL;
        strtod(text, &end);
        if (!*text || *end)
            return perr(p, "malformed number");
    }
    int rc = on_value(p, t, text);
    if (rc)
        return rc;
    if (p->depth == 0)
        return perr(p, "an inventory is a JSON object");
    after_value(p);
    return FLOE_OK;
}

/*
 * The JSON lexer, one function per state: json_byte() hands each byte to the step of the
 * current lexer state; a byte outside any token is structure (json_structure()).
 */

/* A byte inside a string (after its opening quote). */
static int lex_string(struct floe_inventory_parser *p, unsigned char c)
{
    if (c == '"') {
        p->lx = LX_WS;
        if (p->is_key) {
            on_key(p, sbuf_str(&p->tok));
            p->ex = EX_COLON;
            return FLOE_OK;
        }
        int rc = on_value(p, T_STRING, sbuf_str(&p->tok));
        if (rc)
            return rc;
        after_value(p);
        return FLOE_OK;
    }
    if (c == '\\') {
        p->lx = LX_ESC;
        return FLOE_OK;
    }
    if (c < 0x20)
        return perr(p, "control character inside a string");
    if (!sbuf_put(&p->tok, (char)c))
        return perr(p, "a string is longer than 1 MiB");
    return FLOE_OK;
}

/* The byte after a backslash in a string. */
static int lex_escape(struct floe_inventory_parser *p, unsigned char c)
{
    char out = 0;
    switch (c) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u':
        p->lx = LX_UHEX;
        p->uhex = 0;
        p->ucount = 0;
        return FLOE_OK;
    default: return perr(p, "unknown escape in a string");
    }
    p->lx = LX_STRING;
    if (!sbuf_put(&p->tok, out))
        return perr(p, "a string is longer than 1 MiB");
    return FLOE_OK;
}

/* One of the four hex digits of a \u escape; the fourth puts the character (a high surrogate
 * waits for its low half). */
static int lex_uhex(struct floe_inventory_parser *p, unsigned char c)
{
    unsigned v;
    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    else
        return perr(p, "bad \\u escape");
    p->uhex = p->uhex * 16 + v;
    if (++p->ucount < 4)
        return FLOE_OK;
    p->lx = LX_STRING;
    bool ok = true;
    unsigned cp = p->uhex;
    if (cp >= 0xd800 && cp < 0xdc00) {
        p->high_surrogate = cp;
        return FLOE_OK;
    }
    if (cp >= 0xdc00 && cp < 0xe000 && p->high_surrogate) {
        cp = 0x10000 + ((p->high_surrogate - 0xd800) << 10) + (cp - 0xdc00);
        p->high_surrogate = 0;
    }
    put_utf8(p, cp, &ok);
    if (!ok)
        return perr(p, "a string is longer than 1 MiB");
    return FLOE_OK;
}

/*
 * A byte of a number or literal. One that cannot be part of the token ends it (end_scalar());
 * then *ended is set and the byte is to be read again as structure.
 */
static int lex_scalar(struct floe_inventory_parser *p, unsigned char c, bool *ended)
{
    bool num = p->lx == LX_NUMBER;
    bool part =
        num ? (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
            : c >= 'a' && c <= 'z';
    if (part) {
        if (!sbuf_put(&p->tok, (char)c))
            return perr(p, "a token is too long");
        return FLOE_OK;
    }
    p->lx = LX_WS;
    *ended = true;
    return end_scalar(p, num ? T_NUMBER : T_LITERAL);
}

/* '{' or '[': a container opens (a value where one may start). */
static int json_open(struct floe_inventory_parser *p, unsigned char c)
{
    int rc = value_start_ok(p);
    if (!rc)
        rc = on_value(p, c == '{' ? T_OPEN_OBJ : T_OPEN_ARR, "");
    if (rc)
        return rc;
    if (p->depth >= MAX_DEPTH)
        return perr(p, "nested too deeply");
    p->stack[p->depth++] = c == '{' ? 'o' : 'a';
    p->ex = c == '{' ? EX_KEY_OR_END : EX_VALUE_OR_END;
    return FLOE_OK;
}

/* '}' or ']': the innermost container closes, if it is of that kind and may close here. */
static int json_close(struct floe_inventory_parser *p, unsigned char c)
{
    char kind = c == '}' ? 'o' : 'a';
    if (p->depth == 0 || p->stack[p->depth - 1] != kind)
        return perr(p, "mismatched closing bracket");
    if (p->ex != EX_COMMA_OR_END && p->ex != (kind == 'o' ? EX_KEY_OR_END : EX_VALUE_OR_END))
        return perr(p, "a closing bracket where a value was expected");
    p->depth--;
    int rc = on_close(p, kind);
    if (rc)
        return rc;
    after_value(p);
    return FLOE_OK;
}

/* '"': a key or a string value starts. */
static int json_string_start(struct floe_inventory_parser *p)
{
    sbuf_clear(&p->tok);
    if (p->ex == EX_KEY || p->ex == EX_KEY_OR_END) {
        p->is_key = true;
    } else {
        int rc = value_start_ok(p);
        if (rc)
            return rc;
        p->is_key = false;
    }
    p->lx = LX_STRING;
    return FLOE_OK;
}

/* The first byte of a number or literal: lexing goes on in state lx. */
static int json_scalar_start(struct floe_inventory_parser *p, unsigned char c, enum lex_state lx)
{
    int rc = value_start_ok(p);
    if (rc)
        return rc;
    sbuf_clear(&p->tok);
    sbuf_put(&p->tok, (char)c);
    p->lx = lx;
    return FLOE_OK;
}

/* A byte outside any token: whitespace, a bracket, ':', ',' or the start of a token. */
static int json_structure(struct floe_inventory_parser *p, unsigned char c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return FLOE_OK;
    if (p->top_done)
        return perr(p, "data after the end of the document");
    switch (c) {
    case '{':
    case '[': return json_open(p, c);
    case '}':
    case ']': return json_close(p, c);
    case ':':
        if (p->ex != EX_COLON)
            return perr(p, "unexpected ':'");
        p->ex = EX_VALUE;
        return FLOE_OK;
    case ',':
        if (p->ex != EX_COMMA_OR_END || p->depth == 0)
            return perr(p, "unexpected ','");
        p->ex = p->stack[p->depth - 1] == 'o' ? EX_KEY : EX_VALUE;
        return FLOE_OK;
    case '"': return json_string_start(p);
    default:
        if ((c >= '0' && c <= '9') || c == '-')
            return json_scalar_start(p, c, LX_NUMBER);
        if (c >= 'a' && c <= 'z')
            return json_scalar_start(p, c, LX_LITERAL);
        return perr(p, "unexpected character");
    }
}

static int json_byte(struct floe_inventory_parser *p, unsigned char c)
{
    switch (p->lx) {
    case LX_STRING: return lex_string(p, c);
    case LX_ESC: return lex_escape(p, c);
    case LX_UHEX: return lex_uhex(p, c);
    case LX_NUMBER:
    case LX_LITERAL: {
        bool ended = false;
        int rc = lex_scalar(p, c, &ended);
        if (rc || !ended)
            return rc;
        return json_structure(p, c); /* the byte that ended the token */
    }
    case LX_DONE:
    case LX_WS: break;
    }
    return json_structure(p, c);
}

/* ---- CSV ---- */

static int csv_end_field(struct floe_inventory_parser *p)
{
    const char *v = sbuf_str(&p->field);
    if (!p->header_done) {
        for (int i = 0; i < COL_COUNT; i++)
            if (strcmp(v, s_col_names[i]) == 0)
                p->colmap[i] = p->col;
    } else {
        for (int i = 0; i < COL_COUNT; i++) {
            if (p->colmap[i] == p->col) {
                sbuf_clear(&p->f[i]);
                for (size_t k = 0; k < p->field.len; k++)
                    sbuf_put(&p->f[i], p->field.p[k]);
            }
        }
    }
    p->col++;
    sbuf_clear(&p->field);
    p->cand = 0;
    return FLOE_OK;
}

static int csv_end_row(struct floe_inventory_parser *p)
{
    if (!p->row_started) /* an empty line */
        return FLOE_OK;
    int rc = csv_end_field(p);
    if (rc)
        return rc;
    p->row_started = false;
    if (!p->header_done) {
        if (p->colmap[COL_ID] < 0 || p->colmap[COL_SIZE] < 0)
            return perr(p, "the CSV header does not name ArchiveId and Size columns");
        p->header_done = true;
        p->row_cols = p->col;
    } else {
        if (p->col != p->row_cols)
            return perr(p, "a CSV row has a different number of fields than the header");
        rc = emit_archive(p);
        reset_archive(p);
    }
    p->col = 0;
    return rc;
}

static int csv_byte(struct floe_inventory_parser *p, unsigned char c);
static int csv_step(struct floe_inventory_parser *p, unsigned char c);

/* The candidate quote was the field's end after all: the field is what came before it plus
 * the backslash, and the bytes since are read again as what follows a closing quote. */
static int csv_backtrack(struct floe_inventory_parser *p, unsigned char c)
{
    p->field.len = p->cand - 1;
    if (!sbuf_put(&p->field, '\\'))
        return perr(p, "a field is longer than 1 MiB");
    struct sbuf again = p->raw;
    p->raw = (struct sbuf){0};
    p->cand = 0;
    p->cs = CS_AFTER_QUOTE;
    int rc = FLOE_OK;
    for (size_t i = 0; i < again.len && !rc; i++)
        rc = csv_byte(p, (unsigned char)again.p[i]);
    free(again.p);
    return rc ? rc : csv_byte(p, c);
}

/* One byte of CSV, remembering the bytes after a candidate close (see csv_backtrack). */
static int csv_byte(struct floe_inventory_parser *p, unsigned char c)
{
    if (p->cand && (p->cs == CS_QUOTED || p->cs == CS_QUOTED_BS) && (c == '\n' || c == '\r'))
        return csv_backtrack(p, c); /* descriptions hold no line breaks: it was the close */
    if (p->cand && p->cs == CS_AFTER_QUOTE && c != ',' && c != '\n' && c != '\r')
        return csv_backtrack(p, c); /* not a field's end after that quote: it was earlier */
    if (p->cand && !sbuf_put(&p->raw, (char)c))
        return perr(p, "a field is longer than 1 MiB");
    return csv_step(p, c);
}

static int csv_step(struct floe_inventory_parser *p, unsigned char c)
{
    switch (p->cs) {
    case CS_CR:
        p->cs = CS_FIELD_START;
        if (c == '\n')
            return FLOE_OK; /* \r\n: the row already ended at \r */
        return csv_step(p, c);
    case CS_QUOTED_BS:
        p->cs = CS_QUOTED;
        if (c == '"') {
            p->cand = p->field.len + 1;
            sbuf_clear(&p->raw);
            if (!sbuf_put(&p->field, '"'))
                return perr(p, "a field is longer than 1 MiB");
            return FLOE_OK;
        }
        if (!sbuf_put(&p->field, '\\'))
            return perr(p, "a field is longer than 1 MiB");
        return csv_step(p, c);
    case CS_QUOTED:
        if (c == '\\') {
            p->cs = CS_QUOTED_BS;
            return FLOE_OK;
        }
        if (c == '"') {
            p->cs = CS_AFTER_QUOTE;
            return FLOE_OK;
        }
        if (!sbuf_put(&p->field, (char)c))
            return perr(p, "a field is longer than 1 MiB");
        return FLOE_OK;
    case CS_AFTER_QUOTE:
        if (c == ',') {
            p->cs = CS_FIELD_START;
            return csv_end_field(p);
        }
        if (c == '\n' || c == '\r') {
            p->cs = c == '\r' ? CS_CR : CS_FIELD_START;
            return csv_end_row(p);
        }
        return perr(p, "a character after a closing quote (a quote inside a field must be "
                       "written \\\")");
    case CS_FIELD_START:
        if (!p->row_started && p->col == 0)
            p->rec_start = p->offset;
        if (c == '"') {
            p->row_started = true;
            p->cs = CS_QUOTED;
            return FLOE_OK;
        }
        /* fall through */
    case CS_UNQUOTED:
        if (c == ',') {
            p->row_started = true;
            p->cs = CS_FIELD_START;
            return csv_end_field(p);
        }
        if (c == '\n' || c == '\r') {
            p->cs = c == '\r' ? CS_CR : CS_FIELD_START;
            return csv_end_row(p);
        }
        p->row_started = true;
        p->cs = CS_UNQUOTED;
        if (!sbuf_put(&p->field, (char)c))
            return perr(p, "a field is longer than 1 MiB");
        return FLOE_OK;
    }
    return FLOE_OK;
}

/* ---- public ---- */

struct floe_inventory_parser *floe_inventory_parser_new(enum floe_inventory_format format,
                                                        floe_inventory_fn *fn, void *user)
{
    struct floe_inventory_parser *p = floe_xcalloc(1, sizeof(*p));
    p->format = format;
    p->fn = fn;
    p->user = user;
    p->ex = EX_VALUE;
    for (int i = 0; i < COL_COUNT; i++)
        p->colmap[i] = -1;
    return p;
}

int floe_inventory_parser_feed(struct floe_inventory_parser *p, const void *data, size_t n,
                               struct floe_error *err)
{
    const unsigned char *b = data;
    p->fed += n;
    if (p->failed) {
        if (err)
            *err = p->ferr;
        return p->failed;
    }
    for (size_t i = 0; i < n; i++, p->offset++) {
        unsigned char c = b[i];
        if (p->format == FLOE_INVENTORY_AUTO) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                continue;
            if (c == 0xef) /* UTF-8 byte order mark */
                continue;
            if (c == 0xbb || c == 0xbf)
                continue;
            p->format = c == '{' ? FLOE_INVENTORY_JSON : FLOE_INVENTORY_CSV;
        }
        int rc = p->format == FLOE_INVENTORY_JSON ? json_byte(p, c) : csv_byte(p, c);
        if (rc) {
            if (err)
                *err = p->ferr;
            return rc;
        }
    }
    return FLOE_OK;
}

int floe_inventory_parser_finish(struct floe_inventory_parser *p,
                                 struct floe_inventory_summary *out, struct floe_error *err)
{
    int rc = p->failed;
    if (!rc && p->format == FLOE_INVENTORY_JSON) {
        if (p->lx == LX_NUMBER || p->lx == LX_LITERAL) {
            bool num = p->lx == LX_NUMBER;
            p->lx = LX_WS;
            rc = end_scalar(p, num ? T_NUMBER : T_LITERAL);
        }
        if (!rc && (!p->top_done || p->lx != LX_WS))
            rc = perr(p, "the document ends early (truncated download?)");
    } else if (!rc && p->format == FLOE_INVENTORY_CSV) {
        bool quoted = p->cs == CS_QUOTED || p->cs == CS_QUOTED_BS;
        if (quoted && p->cand)
            rc = csv_byte(p, '\n'); /* the last field ended in a backslash: see csv_backtrack */
        else if (quoted)
            rc = perr(p, "the document ends inside a quoted field (truncated download?)");
        else if (p->row_started)
            rc = csv_end_row(p);
        if (!rc && !p->header_done)
            rc = perr(p, "no CSV header row (ArchiveId,ArchiveDescription,CreationDate,Size,"
                         "SHA256TreeHash)");
    } else if (!rc) {
        rc = perr(p, "the document is empty");
    }
    if (rc) {
        if (err)
            *err = p->ferr;
        return rc;
    }
    p->sum.format = p->format;
    *out = p->sum;
    return FLOE_OK;
}

void floe_inventory_parser_summary(const struct floe_inventory_parser *p,
                                   struct floe_inventory_summary *out)
{
    *out = p->sum;
    out->format = p->format;
}

void floe_inventory_parser_destroy(struct floe_inventory_parser *p)
{
    if (!p)
        return;
    for (int i = 0; i < COL_COUNT; i++)
        free(p->f[i].p);
    free(p->tok.p);
    free(p->field.p);
    free(p->raw.p);
    free(p);
}

int floe_inventory_parse_file(const char *path, enum floe_inventory_format format,
                              floe_inventory_fn *fn, void *user, struct floe_inventory_summary *out,
                              struct floe_error *err)
{
    bool in = strcmp(path, "-") == 0;
    int fd = in ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open %s", path);
    struct floe_inventory_parser *p = floe_inventory_parser_new(format, fn, user);
    size_t cap = (size_t)1 << 20;
    char *buf = floe_xmalloc(cap);
    int rc = FLOE_OK;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot read %s", path);
            goto out;
        }
        if (n == 0)
            break;
        if ((rc = floe_inventory_parser_feed(p, buf, (size_t)n, err)))
            goto out;
    }
    rc = floe_inventory_parser_finish(p, out, err);
out:
    free(buf);
    floe_inventory_parser_destroy(p);
    if (!in)
        close(fd);
    return rc;
}
