/* main.c - `petri`: the coordinator daemon (`petri coordinator`), the local
 * demo cluster (`petri demo`) and every operator command (cli.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "coord.h"
#include "crypto.h"
#include "demo.h"

int main(int argc, char **argv)
{
    if (crypto_init() != 0) {
        fprintf(stderr, "petri: libsodium failed to initialise\n");
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "coordinator") == 0)
        return coord_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "demo") == 0)
        return demo_main(argc - 1, argv + 1);
    return cli_main(argc, argv);
}
