/* tls-check.h - what is wrong with each certificate (see tls-check.c). */
#ifndef MAILBAG_CLI_TLS_CHECK_H
#define MAILBAG_CLI_TLS_CHECK_H

#include <jansson.h>

#include "cli.h"

struct cert_report {
	const struct mb_tls_certificate *entry;
	json_t *names;          /* the DNS names it covers */
	char not_after[32];     /* YYYY-MM-DD HH:MM:SS UTC */
	int days_left;
	char problems[1024];    /* "; "-separated, "" when fine */
	char warning[128];
};

/* A report per certificate of the context (*reports_r, in its order):
   how many have problems, or -1 when out of memory. Free the reports
   with cli_tls_reports_free(). */
int cli_tls_check_all(struct cli *cli, struct cert_report **reports_r);
void cli_tls_reports_free(struct cert_report *reports, size_t count);

/* The certificate file's key as a DANE TLSA "3 1 1" value (the SHA-256
   of its SubjectPublicKeyInfo, hex); 0, or -1 with error. */
int cli_tls_spki_sha256(const char *cert_file, char hex[65], char *error, size_t error_size);

#endif
