/*
 * main.c - floe-vault, the local Glacier-compatible server. Placeholder until the server
 * issue lands: it states that it does not serve yet and exits non-zero, so nothing mistakes it
 * for a working server.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("floe-vault 0.1.0 (not yet serving)\n");
        return 0;
    }
    fprintf(stderr, "floe-vault: the server is not implemented yet\n");
    return 1;
}
