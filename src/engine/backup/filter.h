/*
 * filter.h - rsync-style rules that include or exclude paths, for `floe backup` (and restore,
 * check, purge): an ordered list of rules, the first rule that matches a path decides; no rule
 * matching means "included".
 *
 * Patterns (the subset of rsync's that floe supports; for users: docs/backup.md, Filters):
 *   *        any run of characters except '/'
 *   **       any run of characters including '/'
 *   ?        one character except '/'
 *   [...]    a character class ([a-z], [!0-9]) within one path component
 *   /PAT     anchored: matched against the whole path from the source root
 *   PAT      unanchored: matched against the last components (a pattern with k components
 *            matches the last k components of the path, so "*.tmp" matches at any depth and
 *            "cache/?.bin" matches "x/y/cache/a.bin")
 *   PAT/     matches directories only (the trailing '/' is not part of the match)
 *   \X       X literally
 * An excluded directory is not descended into (its contents are never seen), so "- /a/" with
 * "+ /a/keep" keeps nothing under a - as rsync does; including every directory first (a "+"
 * rule whose pattern is a star and a trailing slash), then "- *", is how a user includes only
 * some files deep down.
 * Unanchored patterns with "**" are tried against every tail of the path that starts at a
 * component boundary ("**" may match nothing, so a "**" standing alone between two slashes
 * still needs the path to have a component there); '*', '?' and classes never match '/'.
 * Refused: a pattern longer than 4,095 bytes, an empty component ("a//b"), a trailing lone
 * '\', an unterminated or reversed ([z-a]) class.
 *
 * Ownership: the filter owns copies of its patterns. Threads: building is single-threaded;
 * floe_filter_match() is read-only and may be called from any number of threads at once.
 */
#ifndef FLOE_ENGINE_FILTER_H
#define FLOE_ENGINE_FILTER_H

#include <stdbool.h>

#include "floe/error.h"

struct floe_filter;

enum floe_filter_verdict {
    FLOE_FILTER_NONE = 0,    /* no rule matched (the caller treats it as included) */
    FLOE_FILTER_INCLUDE = 1, /* a "+" rule matched first */
    FLOE_FILTER_EXCLUDE = 2, /* a "-" rule matched first */
};

/* floe_filter_new() - an empty rule list (everything included). Never fails (aborts on OOM). */
struct floe_filter *floe_filter_new(void);

/* floe_filter_free() - NULL is fine. */
void floe_filter_free(struct floe_filter *f);

/*
 * floe_filter_add() - append one rule: "+ PATTERN" or "- PATTERN" (exactly one space; also
 * "include PATTERN" / "exclude PATTERN" as rsync's long forms). --include P is "+ P",
 * --exclude P is "- P". Returns FLOE_OK, or FLOE_E_INVALID_ARG with a message naming the rule
 * and what is wrong ("filter rule '* x': expected '+ PATTERN' or '- PATTERN'", an empty
 * pattern, an unterminated '[' class).
 */
int floe_filter_add(struct floe_filter *f, const char *rule, struct floe_error *err);

/* floe_filter_add_include() / _exclude() - as floe_filter_add("+ " pat) / ("- " pat). */
int floe_filter_add_include(struct floe_filter *f, const char *pattern, struct floe_error *err);
int floe_filter_add_exclude(struct floe_filter *f, const char *pattern, struct floe_error *err);

/* floe_filter_count() - rules added so far. */
unsigned floe_filter_count(const struct floe_filter *f);

/*
 * floe_filter_match() - the verdict of the first rule matching relpath: the path relative to
 * the source root, components separated by single '/', no leading '/' ("dir/a.txt"); is_dir
 * says whether it names a directory. Bytes are compared as bytes (names need not be UTF-8).
 */
enum floe_filter_verdict floe_filter_match(const struct floe_filter *f, const char *relpath,
                                           bool is_dir);

#endif
