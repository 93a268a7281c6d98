/* sign-bench.c - DKIM signing alone, per core: mailbag-milter's signer
 * (keys parsed once, milter/signer.c) against libopendkim's dkim_sign()
 * (which is handed the PEM key text and parses it for every message, as
 * OpenDKIM does), on the same message and key, one thread, relaxed/relaxed.
 *
 *	sign-bench KEY.pem SECONDS
 *
 * Prints signatures per second for both and their ratio. That the
 * signer's signatures verify is the business of tests/unit/test-milter.c
 * (libopendkim) and of bench-milter.sh's dkimpy sample.
 */
#include "canon.h"
#include "headers.h"
#include "signer.h"

#include <opendkim/dkim.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const fields[][2] = {
	{ "From", " Bench Sender <bench@dkim.test>" },
	{ "To", " Bench Recipient <rcpt@sink.test>" },
	{ "Subject", " peerbench test message" },
	{ "Date", " Sun, 22 Nov 2026 04:00:00 +0000" },
	{ "Message-ID", " <peerbench.4096@dkim.test>" },
	{ "MIME-Version", " 1.0" },
	{ "Content-Type", " text/plain; charset=us-ascii" },
};
#define FIELDS (sizeof(fields) / sizeof(fields[0]))

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sign_ours(const struct dkim_signing_key *key, const struct header_list *headers,
		     const char *body, char *out, size_t size)
{
	struct canon_body canon;
	unsigned char digest[32];
	char error[256];

	if (canon_body_init(&canon) < 0)
		return -1;
	canon_body_update(&canon, (const unsigned char *)body, strlen(body));
	canon_body_final(&canon, digest);
	return signer_sign(key, headers, digest, time(NULL), out, size, error, sizeof(error));
}

static int sign_libopendkim(DKIM_LIB *lib, const char *pem, const char *selector, dkim_alg_t alg,
			    const char *body, char *out, size_t size)
{
	DKIM_STAT status;
	DKIM *dkim = dkim_sign(lib, (const unsigned char *)"bench", NULL, (dkim_sigkey_t)pem,
			       (const unsigned char *)selector, (const unsigned char *)"dkim.test",
			       DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, alg, -1, &status);
	char field[256];

	if (dkim == NULL)
		return -1;
	for (size_t i = 0; i < FIELDS; i++) {
		int n = snprintf(field, sizeof(field), "%s:%s", fields[i][0], fields[i][1]);
		dkim_header(dkim, (unsigned char *)field, (size_t)n);
	}
	dkim_eoh(dkim);
	dkim_body(dkim, (unsigned char *)body, strlen(body));
	status = dkim_eom(dkim, NULL);
	if (status == DKIM_STAT_OK)
		status = dkim_getsighdr(dkim, (unsigned char *)out, size, strlen("DKIM-Signature: "));
	dkim_free(dkim);
	return status == DKIM_STAT_OK ? 0 : -1;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = f != NULL ? calloc(1, 65536) : NULL;

	if (text != NULL && fread(text, 1, 65535, f) == 0) {
		free(text);
		text = NULL;
	}
	if (f != NULL)
		fclose(f);
	return text;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: sign-bench KEY.pem SECONDS\n");
		return 64;
	}
	double seconds = atof(argv[2]);
	char *pem = read_file(argv[1]);
	FILE *f = fopen(argv[1], "r");
	EVP_PKEY *pkey = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	if (pem == NULL || pkey == NULL) {
		fprintf(stderr, "sign-bench: %s is not a readable PEM private key\n", argv[1]);
		return 66;
	}
	bool rsa = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;
	struct dkim_signing_key key = { "dkim.test", "bench", rsa ? DKIM_RSA_SHA256 : DKIM_ED25519_SHA256, pkey };
	struct header_list headers = { 0 };
	for (size_t i = 0; i < FIELDS; i++)
		headers_add(&headers, fields[i][0], fields[i][1]);
	char *body = malloc(4097);
	for (int i = 0; i < 4096; i++)
		body[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
	body[4096] = '\0';
	/* CRLF line ends, as a milter sees the body */
	char *crlf = malloc(8300);
	size_t n = 0;
	for (int i = 0; i < 4096; i++) {
		if (body[i] == '\n')
			crlf[n++] = '\r';
		crlf[n++] = body[i];
	}
	crlf[n] = '\0';

	DKIM_LIB *lib = dkim_init(NULL, NULL);
	dkim_alg_t alg = rsa ? DKIM_SIGN_RSASHA256 : DKIM_SIGN_ED25519SHA256;
	char out[8192];
	if (sign_ours(&key, &headers, crlf, out, sizeof(out)) < 0 ||
	    sign_libopendkim(lib, pem, "bench", alg, crlf, out, sizeof(out)) < 0) {
		fprintf(stderr, "sign-bench: a first signature failed\n");
		return 70;
	}
	long ours = 0, theirs = 0;
	double start = now_seconds();
	while (now_seconds() - start < seconds) {
		sign_ours(&key, &headers, crlf, out, sizeof(out));
		ours++;
	}
	double ours_rate = (double)ours / (now_seconds() - start);
	start = now_seconds();
	while (now_seconds() - start < seconds) {
		sign_libopendkim(lib, pem, "bench", alg, crlf, out, sizeof(out));
		theirs++;
	}
	double theirs_rate = (double)theirs / (now_seconds() - start);
	printf("%s\tmailbag %.0f/s\tlibopendkim %.0f/s\tratio %.2f\n", rsa ? "rsa-2048" : "ed25519",
	       ours_rate, theirs_rate, ours_rate / theirs_rate);
	dkim_close(lib);
	headers_clear(&headers);
	EVP_PKEY_free(pkey);
	free(pem);
	free(body);
	free(crlf);
	return 0;
}
