/*
 * hex.h - hexadecimal digits, for the parsers that read hex (tree hashes, percent-escapes in
 * URLs and archive descriptions). Pure; any thread.
 */
#ifndef FLOE_CORE_HEX_H
#define FLOE_CORE_HEX_H

/* floe_hex_nibble() - the value of hex digit c ('0'-'9', 'a'-'f', 'A'-'F'), or -1. */
int floe_hex_nibble(char c);

#endif
