/*
 * selsql.h - the Glacier Select SQL subset (docs/select.md 1): a parser from the expression
 * text to a query tree, and the binding of column names to a CSV header.
 *
 * The grammar, every refused construct and its message are in docs/select.md. Messages name
 * the problem and its 1-based character position in the expression ("unsupported clause LIMIT
 * at position 31"). The evaluator is seleval.h.
 *
 * Threads: a query is immutable after floe_selsql_bind and may then be read (evaluated) by any
 * number of threads at once; parse and bind are pure functions of their inputs.
 */
#ifndef FLOE_CORE_SELSQL_H
#define FLOE_CORE_SELSQL_H

#include "selcsv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest expression the service accepts (SelectParameters.Expression). */
#define FLOE_SELSQL_MAX_EXPRESSION 128000

enum floe_selsql_type {
    FLOE_SELSQL_NULL = 0,
    FLOE_SELSQL_BOOL,
    FLOE_SELSQL_INT,
    FLOE_SELSQL_FLOAT,
    FLOE_SELSQL_DECIMAL,
    FLOE_SELSQL_STRING,
    FLOE_SELSQL_TIMESTAMP,
    FLOE_SELSQL_TYPE_COUNT
};
/* Upper-case names of the types ("NULL", "BOOL", "INT", ...), indexed by the enum. */
extern const char *const floe_selsql_type_names[FLOE_SELSQL_TYPE_COUNT];

/* Timestamp precision: which parts were given (and are printed). */
enum floe_selsql_prec {
    FLOE_SELSQL_PREC_YEAR = 0,
    FLOE_SELSQL_PREC_MONTH,
    FLOE_SELSQL_PREC_DAY,
    FLOE_SELSQL_PREC_MINUTE,
    FLOE_SELSQL_PREC_SECOND,
    FLOE_SELSQL_PREC_FRACTION /* + frac_digits digits (1..6) */
};

struct floe_selsql_ts {
    int64_t us;     /* the instant: microseconds since 1970-01-01T00:00Z */
    int16_t tz_min; /* the offset it was written in, minutes east of UTC */
    uint8_t prec;   /* enum floe_selsql_prec */
    uint8_t frac_digits;
};

/* A value. Strings are borrowed: from the query (literals), the record, or the evaluator's
 * per-record scratch memory. */
struct floe_selsql_value {
    enum floe_selsql_type type;
    union {
        bool b;
        int64_t i;
        double f; /* FLOAT and DECIMAL (a double; docs/select.md deviations) */
        struct {
            const char *p;
            size_t len;
        } s;
        struct floe_selsql_ts t;
    } u;
};

enum floe_selsql_op {
    FLOE_SELSQL_LIT = 0,
    FLOE_SELSQL_COL,
    FLOE_SELSQL_NOT,
    FLOE_SELSQL_NEG,
    FLOE_SELSQL_AND,
    FLOE_SELSQL_OR,
    FLOE_SELSQL_EQ,
    FLOE_SELSQL_NE,
    FLOE_SELSQL_LT,
    FLOE_SELSQL_GT,
    FLOE_SELSQL_LE,
    FLOE_SELSQL_GE,
    FLOE_SELSQL_ADD,
    FLOE_SELSQL_SUB,
    FLOE_SELSQL_MUL,
    FLOE_SELSQL_DIV,
    FLOE_SELSQL_MOD,
    FLOE_SELSQL_CONCAT,
    FLOE_SELSQL_BETWEEN, /* kids: x, low, high */
    FLOE_SELSQL_IN,      /* kids: x, items... */
    FLOE_SELSQL_LIKE,    /* kids: x, pattern[, escape] */
    FLOE_SELSQL_ISNULL,  /* kids: x */
    FLOE_SELSQL_FUNC,    /* fn; kids: the arguments */
    FLOE_SELSQL_CAST,    /* cast_to; kids: x */
    FLOE_SELSQL_OP_COUNT
};

enum floe_selsql_fn {
    FLOE_SELSQL_FN_COALESCE = 0,
    FLOE_SELSQL_FN_NULLIF,
    FLOE_SELSQL_FN_DATE_ADD,  /* part; kids: quantity, timestamp */
    FLOE_SELSQL_FN_DATE_DIFF, /* part; kids: t1, t2 */
    FLOE_SELSQL_FN_EXTRACT,   /* part; kids: timestamp */
    FLOE_SELSQL_FN_TO_STRING,
    FLOE_SELSQL_FN_TO_TIMESTAMP,
    FLOE_SELSQL_FN_UTCNOW,
    FLOE_SELSQL_FN_CHAR_LENGTH,
    FLOE_SELSQL_FN_LOWER,
    FLOE_SELSQL_FN_UPPER,
    FLOE_SELSQL_FN_SUBSTRING, /* kids: s, start[, length] */
    FLOE_SELSQL_FN_TRIM,      /* part = enum floe_selsql_trim; kids: s[, characters] */
    FLOE_SELSQL_FN_COUNT
};

enum floe_selsql_part {
    FLOE_SELSQL_YEAR = 0,
    FLOE_SELSQL_MONTH,
    FLOE_SELSQL_DAY,
    FLOE_SELSQL_HOUR,
    FLOE_SELSQL_MINUTE,
    FLOE_SELSQL_SECOND,
    FLOE_SELSQL_TIMEZONE_HOUR,
    FLOE_SELSQL_TIMEZONE_MINUTE,
    FLOE_SELSQL_PART_COUNT
};

enum floe_selsql_trim {
    FLOE_SELSQL_TRIM_BOTH = 0,
    FLOE_SELSQL_TRIM_LEADING,
    FLOE_SELSQL_TRIM_TRAILING
};

struct floe_selsql_expr {
    enum floe_selsql_op op;
    size_t pos;   /* 1-based position in the expression text */
    bool negated; /* NOT BETWEEN / NOT IN / NOT LIKE / IS NOT NULL */
    int fn;       /* FUNC: enum floe_selsql_fn */
    int part;     /* FUNC: enum floe_selsql_part or floe_selsql_trim */
    enum floe_selsql_type cast_to;
    struct floe_selsql_value lit; /* LIT; its string (if any) is owned by the node */
    size_t col;                   /* COL: 0-based field index (after bind) */
    char *name;                   /* COL by header name (NULL for _N); owned */
    bool quoted;                  /* name was a "quoted identifier" (case-sensitive) */
    struct floe_selsql_expr **kids;
    size_t nkids;
};

struct floe_selsql_query {
    bool star;                      /* SELECT * */
    struct floe_selsql_expr **proj; /* the select list, when not star */
    size_t nproj;
    struct floe_selsql_expr *where; /* NULL without WHERE */
    bool uses_names;                /* some column is a header name */
    bool bound;
};

/*
 * floe_selsql_parse() - parse expression text sql[0..len) (borrowed).
 * out   the query on success (free with floe_selsql_free).
 * msg   on failure, the problem and its position (NUL-terminated, truncated to cap).
 * Returns 0, or -1 on a syntax error or an unsupported construct.
 */
int floe_selsql_parse(const char *sql, size_t len, struct floe_selsql_query **out, char *msg,
                      size_t cap);

/*
 * floe_selsql_bind() - resolve header names to field indexes.
 * header  the header record's fields with FileHeaderInfo USE, else NULL (n 0): then a column
 *         name is an error. A "quoted" name matches exactly, a plain one ignoring ASCII case;
 *         the first matching header field wins.
 * Returns 0, or -1 with msg naming the column and its position.
 */
int floe_selsql_bind(struct floe_selsql_query *q, const struct floe_selcsv_field *header, size_t n,
                     char *msg, size_t cap);

/* Free q and its tree. NULL is fine. */
void floe_selsql_free(struct floe_selsql_query *q);

#endif
