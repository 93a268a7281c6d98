/* tls-check.c - what is wrong with each certificate of tls.certificates
 *
 * SUMMARY
 *	Reads each certificate the context names and reports the DNS names
 *	it covers, when it ends, and what is wrong with it: unreadable,
 *	expired, not covering its host name, a key that is not its own or
 *	that others may read. `tls status` prints the reports; `tls apply`
 *	(tls-apply.c) writes nothing while one of them names a problem.
 *	cli_tls_spki_sha256() is the key's digest for DANE TLSA records
 *	(`dns records`, `dns check`).
 */
#include "tls-check.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* a certificate nearer its end than this is reported (not an error) */
#define RENEW_WARNING_DAYS 14

static void add_problem(struct cert_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_problem(struct cert_report *r, const char *fmt, ...)
{
	size_t used = strlen(r->problems);
	va_list args;

	snprintf(r->problems + used, sizeof(r->problems) - used, "%s", used > 0 ? "; " : "");
	used = strlen(r->problems);
	va_start(args, fmt);
	vsnprintf(r->problems + used, sizeof(r->problems) - used, fmt, args);
	va_end(args);
}

static X509 *read_certificate(const char *path, char *error, size_t error_size)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(error, error_size, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL)
		snprintf(error, error_size, "%s holds no PEM certificate", path);
	return cert;
}

static void collect_names(X509 *cert, json_t *names)
{
	GENERAL_NAMES *alt = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

	for (int i = 0; alt != NULL && i < sk_GENERAL_NAME_num(alt); i++) {
		const GENERAL_NAME *name = sk_GENERAL_NAME_value(alt, i);
		if (name->type != GEN_DNS)
			continue;
		const ASN1_IA5STRING *dns = name->d.dNSName;
		json_array_append_new(names, json_stringn((const char *)ASN1_STRING_get0_data(dns),
							  (size_t)ASN1_STRING_length(dns)));
	}
	GENERAL_NAMES_free(alt);
	if (json_array_size(names) > 0)
		return;
	/* no subjectAltName: the common name (old self-signed certificates) */
	char cn[256];
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0)
		json_array_append_new(names, json_string(cn));
}

static void check_validity(X509 *cert, struct cert_report *r)
{
	const ASN1_TIME *end = X509_get0_notAfter(cert);
	struct tm tm;
	int days = 0, seconds = 0;

	if (ASN1_TIME_to_tm(end, &tm) == 1)
		strftime(r->not_after, sizeof(r->not_after), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (ASN1_TIME_diff(&days, &seconds, NULL, end) != 1) {
		add_problem(r, "%s", "its end date cannot be read");
		return;
	}
	r->days_left = days;
	if (days < 0 || (days == 0 && seconds <= 0))
		add_problem(r, "expired on %s", r->not_after);
	else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		add_problem(r, "%s", "not valid yet");
	else if (days < RENEW_WARNING_DAYS)
		snprintf(r->warning, sizeof(r->warning), "expires in %d days: renew it", days);
}

static void check_key(X509 *cert, struct cert_report *r)
{
	const char *path = r->entry->key_file;
	struct stat st;

	FILE *f = fopen(path, "r");
	if (f == NULL) {
		add_problem(r, "cannot read the key %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IRWXO) != 0)
		add_problem(r, "the key %s may be read by others: chmod o-rwx it", path);
	EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		add_problem(r, "%s holds no PEM private key", path);
	else if (X509_check_private_key(cert, key) != 1)
		add_problem(r, "the key %s is not this certificate's", path);
	EVP_PKEY_free(key);
}

static void check_certificate(const struct mb_tls_certificate *entry, struct cert_report *r)
{
	char error[512];

	memset(r, 0, sizeof(*r));
	r->entry = entry;
	r->names = json_array();
	X509 *cert = read_certificate(entry->cert_file, error, sizeof(error));
	if (cert == NULL) {
		add_problem(r, "%s", error);
		return;
	}
	collect_names(cert, r->names);
	check_validity(cert, r);
	if (X509_check_host(cert, entry->hostname, 0, 0, NULL) != 1)
		add_problem(r, "it does not cover %s", entry->hostname);
	check_key(cert, r);
	X509_free(cert);
}

int cli_tls_spki_sha256(const char *cert_file, char hex[65], char *error, size_t error_size)
{
	unsigned char *der = NULL, digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;

	X509 *cert = read_certificate(cert_file, error, error_size);
	if (cert == NULL)
		return -1;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	X509_free(cert);
	if (len <= 0 || EVP_Digest(der, (size_t)len, digest, &digest_len, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		snprintf(error, error_size, "%s: cannot encode its public key", cert_file);
		return -1;
	}
	OPENSSL_free(der);
	for (unsigned int i = 0; i < digest_len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

/* cli_tls_check_all - a report per certificate; how many have problems */
int cli_tls_check_all(struct cli *cli, struct cert_report **reports_r)
{
	size_t count = cli->ctx->tls.certificates.count;
	struct cert_report *reports = calloc(count + 1, sizeof(*reports));
	int bad = 0;

	if (reports == NULL) {
		*reports_r = NULL;
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		check_certificate(&cli->ctx->tls.certificates.items[i], &reports[i]);
		bad += reports[i].problems[0] != '\0';
	}
	*reports_r = reports;
	return bad;
}

void cli_tls_reports_free(struct cert_report *reports, size_t count)
{
	for (size_t i = 0; reports != NULL && i < count; i++)
		json_decref(reports[i].names);
	free(reports);
}

