/*
 * alloc.c - see alloc.h.
 */
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(size_t n)
{
    fprintf(stderr, "floe: out of memory allocating %zu bytes\n", n);
    abort();
}

void *floe_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die(n);
    return p;
}

void *floe_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        die(count * size);
    return p;
}

void *floe_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die(n);
    return q;
}

char *floe_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = floe_xmalloc(n);
    memcpy(p, s, n);
    return p;
}
