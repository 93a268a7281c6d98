/* store-init.h - the store and the mail root, made (see store-init.c). */
#ifndef MAILBAG_CLI_STORE_INIT_H
#define MAILBAG_CLI_STORE_INIT_H

#include "cli.h"

/* Load the context (cli->context_path), create its store (left open in
   cli->store) and the mail root; EX_OK, or the exit code with the reason
   printed. Nothing is said on stdout. */
int cli_init_store(struct cli *cli);

#endif
