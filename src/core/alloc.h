/*
 * alloc.h - small allocations that cannot fail: they abort with a message on exhaustion
 * (aws-c-common's reasoning: a process out of memory for a few bytes cannot recover sensibly).
 * Large buffers do not come from here; they come from pools that fail with FLOE_E_NOMEM.
 */
#ifndef FLOE_CORE_ALLOC_H
#define FLOE_CORE_ALLOC_H

#include <stddef.h>

void *floe_xmalloc(size_t n);
void *floe_xcalloc(size_t count, size_t size);
void *floe_xrealloc(void *p, size_t n);
char *floe_xstrdup(const char *s);

#endif
