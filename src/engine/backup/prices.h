/*
 * prices.h - the engine's name for floe/prices.h, the dated price table behind every cost
 * estimate floe prints. The table is public so the CLI (floe bench) can price what it does.
 */
#ifndef FLOE_ENGINE_BACKUP_PRICES_H
#define FLOE_ENGINE_BACKUP_PRICES_H

#include "floe/prices.h"

#endif
