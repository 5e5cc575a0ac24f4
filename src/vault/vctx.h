/*
 * vctx.h - floe-vault's process context: the configuration and the handle of every subsystem
 * (database, blob store, job scheduler, notifier, HTTP). Every module that serves requests or
 * runs a thread reads it; main.c fills cfg and server.c (which starts and stops the
 * subsystems) the handles. It is a type with no code, so including it never makes a module
 * depend on the server's start and stop order.
 *
 * Threads: once floe_vserver_start() has returned, cfg is read-only and may be read from any
 * thread; the handles are internally synchronised (see each module).
 */
#ifndef FLOE_VAULT_VCTX_H
#define FLOE_VAULT_VCTX_H

#include "vconfig.h"

struct floe_vdb;
struct floe_vblob;
struct floe_vcommit;
struct floe_vjobs;
struct floe_vnotify;
struct floe_vhttp;
struct floe_vscrub;
struct floe_vs3out;

struct floe_vserver {
    struct floe_vconfig cfg; /* read-only while serving */
    struct floe_vdb *db;
    struct floe_vblob *blobs;
    struct floe_vcommit *commit; /* group commit of uploads' rows */
    struct floe_vjobs *jobs;
    struct floe_vnotify *notify;
    struct floe_vhttp *http;
    struct floe_vscrub *scrub;      /* NULL when --scrub-rate 0 */
    struct floe_vs3out *select_out; /* select output (vs3out.h); NULL: none. Set and freed by
                                       the select runner (vselect.c) */
    unsigned port;                  /* the bound port */
};

#endif
