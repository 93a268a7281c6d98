/* tls-apply.h - Postfix's SNI table and Dovecot's TLS file (see tls-apply.c). */
#ifndef MAILBAG_CLI_TLS_APPLY_H
#define MAILBAG_CLI_TLS_APPLY_H

#include <stdbool.h>

#include "cli.h"

/* one file apply looked at: written, or already as it should be */
typedef void cli_tls_file_cb(const char *path, bool written, void *context);
/* "wrote PATH" / "unchanged PATH" on stdout: what `tls apply` says */
void cli_tls_print_file(const char *path, bool written, void *context);

/* Write both files from the loaded context's tls.certificates, said
   through said per file; EX_OK, or the exit code with the reason
   printed (EX_CONFIG no certificate, EX_DATAERR a wrong one,
   EX_CANTCREAT a file not written). */
int cli_tls_apply(struct cli *cli, cli_tls_file_cb *said, void *context);

#endif
