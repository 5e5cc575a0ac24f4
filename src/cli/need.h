/*
 * need.h - the CLI's answer to a failed small allocation: "floe: out of memory" and exit 1.
 * The engine's own allocators are private to libfloe (the CLI sees include/ only), so CLI code
 * calls the C library and passes the result through floe_cli_need().
 * Thread-safe; never returns NULL.
 */
#ifndef FLOE_CLI_NEED_H
#define FLOE_CLI_NEED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *floe_cli_need(void *p)
{
    if (!p) {
        fputs("floe: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static inline char *floe_cli_strdup(const char *s)
{
    return floe_cli_need(strdup(s));
}

#endif
