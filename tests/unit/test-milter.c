/* test-milter.c - mailbag-milter's own code: relaxed canonicalization
 * (RFC 6376 3.4.5's example), the From and Authentication-Results
 * parsers, and the signer checked against libopendkim: the RFC 8463
 * example message verifies, our signatures of it verify (both
 * algorithms), and a changed message fails. Keys come from a key file
 * (libopendkim's DKIM_QUERY_FILE), not DNS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authcheck.h"
#include "canon.h"
#include "headers.h"
#include "pgpmime.h"
#include "signer.h"

/* RFC 8463 Appendix A */
static const char *const rfc8463_headers[][2] = {
	{ "DKIM-Signature", " v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	  " d=football.example.com; i=@football.example.com;\r\n"
	  " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	  " subject : date : message-id : from : subject : date;\r\n"
	  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	  " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	  " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==" },
	{ "DKIM-Signature", " v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	  " d=football.example.com; i=@football.example.com;\r\n"
	  " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	  " date : message-id : from : subject : date;\r\n"
	  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	  " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	  " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	  " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=" },
	{ "From", " Joe SixPack <joe@football.example.com>" },
	{ "To", " Suzie Q <suzie@shopping.example.net>" },
	{ "Subject", " Is dinner ready?" },
	{ "Date", " Fri, 11 Jul 2003 21:00:37 -0700 (PDT)" },
	{ "Message-ID", " <20030712040037.46341.5F8J@football.example.com>" },
};
static const char rfc8463_body[] =
	"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
static const char rfc8463_keys[] =
	"brisbane._domainkey.football.example.com v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
	"test._domainkey.football.example.com v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n";
static const char rfc8463_ed25519_seed[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

static char key_file[] = "/tmp/mailbag-test-milter-keys-XXXXXX";

static void test_relaxed_header_rfc6376_example(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	n = canon_header_relaxed("A", 1, " X", 2, true, out);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a:X\r\n", 5);
	n = canon_header_relaxed("B ", 2, " Y\t\r\n\tZ  ", 9, true, out);
	assert_int_equal(n, 7);
	assert_memory_equal(out, "b:Y Z\r\n", 7);
	n = canon_header_relaxed("Subject", 7, "", 0, false, out);
	assert_memory_equal(out, "subject:", n);
}

static void body_hash(const char *body, const size_t *pieces, char b64[64])
{
	struct canon_body canon;
	unsigned char digest[32];
	size_t len = strlen(body), at = 0;

	assert_int_equal(canon_body_init(&canon), 0);
	for (size_t i = 0; pieces != NULL && pieces[i] != 0 && at < len; i++) {
		size_t n = pieces[i] < len - at ? pieces[i] : len - at;
		canon_body_update(&canon, (const unsigned char *)body + at, n);
		at += n;
	}
	canon_body_update(&canon, (const unsigned char *)body + at, len - at);
	canon_body_final(&canon, digest);
	EVP_EncodeBlock((unsigned char *)b64, digest, 32);
}

static void test_relaxed_body(void **state)
{
	char a[64], b[64];
	static const size_t bytewise[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };

	(void)state;
	/* RFC 6376 3.4.5: " C \r\nD \t E\r\n\r\n\r\n" is " C\r\nD E\r\n" */
	body_hash(" C \r\nD \t E\r\n\r\n\r\n", NULL, a);
	body_hash(" C\r\nD E\r\n", NULL, b);
	assert_string_equal(a, b);
	body_hash(" C \r\nD \t E\r\n\r\n\r\n", bytewise, b);
	assert_string_equal(a, b);
	/* a last line without CRLF gets one; an empty body hashes as "" */
	body_hash("x", NULL, a);
	body_hash("x\r\n", NULL, b);
	assert_string_equal(a, b);
	body_hash("\r\n\r\n", NULL, a);
	assert_string_equal(a, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	/* RFC 8463's body */
	body_hash(rfc8463_body, bytewise, a);
	assert_string_equal(a, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
}

static void test_mailboxes(void **state)
{
	char got[FROM_MAX_ADDRESSES][MB_ADDRESS_MAX + 1];
	struct mb_error_text why;

	(void)state;
	assert_int_equal(headers_parse_mailboxes(" Joe <Joe@Example.COM>", got, FROM_MAX_ADDRESSES, &why), 1);
	assert_string_equal(got[0], "joe@example.com");
	assert_int_equal(headers_parse_mailboxes(" a@b.example", got, FROM_MAX_ADDRESSES, &why), 1);
	assert_string_equal(got[0], "a@b.example");
	/* a comma inside quotes or a comment is no separator */
	assert_int_equal(headers_parse_mailboxes(" \"Doe, John\" (x, y) <j@d.example>", got,
						 FROM_MAX_ADDRESSES, &why), 1);
	assert_string_equal(got[0], "j@d.example");
	/* the address inside <> counts, not one in the display name */
	assert_int_equal(headers_parse_mailboxes(" \"boss@bank.example\" <evil@spam.example>", got,
						 FROM_MAX_ADDRESSES, &why), 1);
	assert_string_equal(got[0], "evil@spam.example");
	assert_int_equal(headers_parse_mailboxes(" a@x.example, b@y.example", got, FROM_MAX_ADDRESSES, &why), 2);
	assert_string_equal(got[1], "b@y.example");
	assert_int_equal(headers_parse_mailboxes(" friends: a@x.example, b@y.example;", got,
						 FROM_MAX_ADDRESSES, &why), 2);
	assert_int_equal(headers_parse_mailboxes(" <@route.example:r@z.example>", got, FROM_MAX_ADDRESSES, &why), 1);
	assert_string_equal(got[0], "r@z.example");
	assert_int_equal(headers_parse_mailboxes(" nobody", got, FROM_MAX_ADDRESSES, &why), -1);
	assert_int_equal(headers_parse_mailboxes(" <a@b.example", got, FROM_MAX_ADDRESSES, &why), -1);
	assert_int_equal(headers_parse_mailboxes(" <a@b.example> <c@d.example>", got, FROM_MAX_ADDRESSES, &why), -1);
	assert_int_equal(headers_parse_mailboxes(" \"open", got, FROM_MAX_ADDRESSES, &why), -1);
	assert_int_equal(headers_parse_mailboxes(" <>", got, FROM_MAX_ADDRESSES, &why), -1);
	/* the longest address fits; one more character is named with the real limit */
	char address[MB_ADDRESS_MAX + 2];
	memset(address, 'a', MB_ADDRESS_MAX);
	address[MB_ADDRESS_MAX] = '\0';
	address[MB_LOCAL_MAX] = '@';
	assert_int_equal(headers_parse_mailboxes(address, got, FROM_MAX_ADDRESSES, &why), 1);
	strcat(address, "a");
	assert_int_equal(headers_parse_mailboxes(address, got, FROM_MAX_ADDRESSES, &why), -1);
	char want[64];
	snprintf(want, sizeof(want), "an address longer than %d characters", MB_ADDRESS_MAX);
	assert_string_equal(why.text, want);
	assert_non_null(strstr(why.text, "318"));
	/* many addresses: counted, the first FROM_MAX_ADDRESSES kept */
	size_t big = 100000 * 12 + 1;
	char *many = malloc(big);
	assert_non_null(many);
	many[0] = '\0';
	for (int i = 0; i < 100000; i++)
		strcat(many + (i > 0 ? (size_t)(i - 1) * 12 : 0), "a@b.example,");
	assert_int_equal(headers_parse_mailboxes(many, got, FROM_MAX_ADDRESSES, &why), 100000);
	free(many);
}

static void test_authres_claims(void **state)
{
	(void)state;
	assert_true(headers_authres_claims(" mx.example.net; dkim=pass", "mx.example.net"));
	assert_true(headers_authres_claims("MX.Example.NET 1; spf=pass", "mx.example.net"));
	assert_true(headers_authres_claims(" (forged) mx.example.net;", "mx.example.net"));
	assert_true(headers_authres_claims(" \"mx.example.net\"; none", "mx.example.net"));
	assert_true(headers_authres_claims("\r\n\tmx.example.net;", "mx.example.net"));
	assert_false(headers_authres_claims(" mx.example.net.evil; dkim=pass", "mx.example.net"));
	assert_false(headers_authres_claims(" other.example; dkim=pass header.d=mx.example.net", "mx.example.net"));
	assert_false(headers_authres_claims(" ", "mx.example.net"));
}

/* verify - libopendkim's verdicts on a message */
static void verify(const char *const (*headers)[2], size_t count, const char *body,
		   struct auth_outcome *out)
{
	struct authcheck *check = authcheck_begin("test");

	assert_non_null(check);
	for (size_t i = 0; i < count; i++)
		authcheck_header(check, headers[i][0], headers[i][1]);
	authcheck_end_of_header(check);
	authcheck_body(check, (const unsigned char *)body, strlen(body));
	memset(out, 0, sizeof(*out));
	authcheck_dkim(check, out);
	authcheck_free(&check);
}

/* begin_in_thread - a check begun on a libmilter worker that then ends */
static void *begin_in_thread(void *arg)
{
	struct authcheck **checkp = arg;

	*checkp = authcheck_begin("worker");
	return NULL;
}

/* libmilter's worker pool moves a session between threads and ends idle
   ones: a check begun on a thread that has gone must still verify */
static void test_check_outlives_its_thread(void **state)
{
	struct authcheck *checks[4];
	pthread_t threads[4];
	struct auth_outcome out;

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&threads[i], NULL, begin_in_thread, &checks[i]), 0);
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_non_null(checks[i]);
	}
	/* the four at once, as four sessions would be */
	for (int i = 0; i < 4; i++) {
		for (size_t h = 0; h < 7; h++)
			authcheck_header(checks[i], rfc8463_headers[h][0], rfc8463_headers[h][1]);
		authcheck_end_of_header(checks[i]);
	}
	for (int i = 0; i < 4; i++) {
		authcheck_body(checks[i], (const unsigned char *)rfc8463_body, strlen(rfc8463_body));
		memset(&out, 0, sizeof(out));
		authcheck_dkim(checks[i], &out);
		authcheck_free(&checks[i]);
		assert_int_equal(out.dkim_count, 2);
		assert_int_equal(out.dkim[0].result, AUTH_PASS);
		assert_int_equal(out.dkim[1].result, AUTH_PASS);
	}
}

static void test_rfc8463_example_verifies(void **state)
{
	struct auth_outcome out;

	(void)state;
	verify(rfc8463_headers, 7, rfc8463_body, &out);
	assert_int_equal(out.dkim_count, 2);
	assert_string_equal(out.dkim[0].algorithm, "ed25519-sha256");
	assert_int_equal(out.dkim[0].result, AUTH_PASS);
	assert_string_equal(out.dkim[1].algorithm, "rsa-sha256");
	assert_int_equal(out.dkim[1].result, AUTH_PASS);
	assert_true(authcheck_dkim_aligned(&out, "football.example.com"));
	assert_false(authcheck_dkim_aligned(&out, "example.com"));
	/* one changed byte of the body fails both */
	verify(rfc8463_headers, 7, "Hi.\r\n\r\nWe won the game.  Are you hungry yet?\r\n\r\nJoe.\r\n", &out);
	assert_int_equal(out.dkim_count, 2);
	assert_int_equal(out.dkim[0].result, AUTH_FAIL);
	assert_int_equal(out.dkim[1].result, AUTH_FAIL);
}

static EVP_PKEY *ed25519_from_seed(const char *b64)
{
	unsigned char seed[48];
	int n = EVP_DecodeBlock(seed, (const unsigned char *)b64, (int)strlen(b64));

	assert_true(n >= 32);
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

/* sign_and_verify - our signature of the RFC 8463 message, then libopendkim */
static void sign_and_verify(struct dkim_signing_key *key, const char *body_for_verify, enum auth_result want)
{
	struct header_list headers = { 0 };
	char value[SIGNER_VALUE_SIZE], error[256], b64[64];
	unsigned char digest[32];
	struct canon_body canon;
	struct auth_outcome out;

	for (size_t i = 2; i < 7; i++)
		assert_int_equal(headers_add(&headers, rfc8463_headers[i][0], rfc8463_headers[i][1]), 0);
	assert_int_equal(canon_body_init(&canon), 0);
	canon_body_update(&canon, (const unsigned char *)rfc8463_body, strlen(rfc8463_body));
	canon_body_final(&canon, digest);
	int n = signer_sign(key, &headers, digest, 1528637909, value, sizeof(value), error, sizeof(error));
	assert_true(n > 0);
	/* From, To, Subject, Date oversigned; Message-ID once */
	assert_non_null(strstr(value, "h=from:from:subject:subject:date:date:to:to:message-id;"));
	EVP_EncodeBlock((unsigned char *)b64, digest, 32);
	assert_non_null(strstr(value, b64));
	const char *signed_headers[6][2] = { { "DKIM-Signature", NULL } };
	char field[1 + SIGNER_VALUE_SIZE]; /* " " and the value */
	snprintf(field, sizeof(field), " %s", value);
	signed_headers[0][1] = field;
	for (size_t i = 1; i < 6; i++) {
		signed_headers[i][0] = rfc8463_headers[i + 1][0];
		signed_headers[i][1] = rfc8463_headers[i + 1][1];
	}
	verify(signed_headers, 6, body_for_verify, &out);
	assert_int_equal(out.dkim_count, 1);
	assert_string_equal(out.dkim[0].selector, key->selector);
	if (out.dkim[0].result != want)
		print_message("%s: %s\n%s\n", key->selector, out.dkim[0].reason, value);
	assert_int_equal(out.dkim[0].result, want);
	headers_clear(&headers);
}

static void test_our_signatures_verify(void **state)
{
	struct dkim_signing_key ed = { "football.example.com", "brisbane", DKIM_ED25519_SHA256, NULL };
	struct dkim_signing_key rsa = { "football.example.com", "ours", DKIM_RSA_SHA256, NULL };
	FILE *f = fopen(key_file, "a");

	(void)state;
	ed.pkey = ed25519_from_seed(rfc8463_ed25519_seed);
	assert_non_null(ed.pkey);
	rsa.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(rsa.pkey);
	/* the RSA key's record, as `mailbag dkim show` prints it */
	unsigned char *der = NULL;
	int der_len = i2d_PUBKEY(rsa.pkey, &der);
	char *p = malloc((size_t)der_len * 2 + 4);
	EVP_EncodeBlock((unsigned char *)p, der, der_len);
	fprintf(f, "ours._domainkey.football.example.com v=DKIM1; k=rsa; p=%s\n", p);
	fclose(f);
	OPENSSL_free(der);
	free(p);

	sign_and_verify(&ed, rfc8463_body, AUTH_PASS);
	sign_and_verify(&rsa, rfc8463_body, AUTH_PASS);
	sign_and_verify(&ed, "Hi.\r\n\r\nWe lost the match.\r\n", AUTH_FAIL);
	sign_and_verify(&rsa, "Hi.\r\n\r\nWe lost the match.\r\n", AUTH_FAIL);
	EVP_PKEY_free(ed.pkey);
	EVP_PKEY_free(rsa.pkey);
}

static void test_authres_format(void **state)
{
	struct auth_outcome out;
	char buf[2048];

	(void)state;
	memset(&out, 0, sizeof(out));
	out.spf = AUTH_PASS;
	snprintf(out.spf_domain, sizeof(out.spf_domain), "example.org");
	out.dkim_count = 1;
	out.dkim[0].result = AUTH_FAIL;
	snprintf(out.dkim[0].reason, sizeof(out.dkim[0].reason), "body hash did not verify");
	snprintf(out.dkim[0].domain, sizeof(out.dkim[0].domain), "example.org");
	snprintf(out.dkim[0].selector, sizeof(out.dkim[0].selector), "s1");
	snprintf(out.dkim[0].algorithm, sizeof(out.dkim[0].algorithm), "rsa-sha256");
	snprintf(out.dkim[0].b, sizeof(out.dkim[0].b), "abcdefgh");
	out.dmarc = AUTH_FAIL;
	out.dmarc_policy = 'r';
	snprintf(out.from_domain, sizeof(out.from_domain), "example.org");
	assert_true(authcheck_format(&out, "mx.example.net", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, " mx.example.net;\n\tspf=pass smtp.mailfrom=example.org;\n"
			    "\tdkim=fail (body hash did not verify) header.d=example.org header.s=s1 "
			    "header.a=rsa-sha256 header.b=abcdefgh;\n\tdmarc=fail (p=reject) header.from=example.org");
	assert_int_equal(authcheck_format(&out, "mx.example.net", buf, 40), -1);
}

static const char encrypted_type[] =
	" multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n\tboundary=\"XyZ\"";
/* made by gpg 2.2 for the tests (issue 16): encrypted to a Curve25519 key
   (PKESK, SEIPD), "gpg --store -z 0" (a literal data packet), "gpg
   --store" (compressed), "gpg -s -z 0" (signed), an encrypted message
   with a signed one after it, "gpg -c" (SKESK, SEIPD) */
static const char armour_enc[] =
	"-----BEGIN PGP MESSAGE-----\r\n"
	"\r\n"
	"hF4D41IqVOrzjG4SAQdAlZEL2m/FD5yQ3EiKUJbVo9LVIbnVJH41EAfTlMIEAVYw\r\n"
	"M2/I10WqAcvdvqvwhkkNmRzgP139yo88q8SQbh2MkZRj5D373U/YC/4WRakBEJMi\r\n"
	"0j0B2l5uVPVVdqAOVMj07KvvqUcg6HLQw9wFSVcGttBUG/U3fVXuwLR46c5AyC9y\r\n"
	"26/Sk1XeFqEn8Dym49sC\r\n"
	"=diKV\r\n"
	"-----END PGP MESSAGE-----\r\n"
;
static const char armour_literal[] =
	"-----BEGIN PGP MESSAGE-----\r\n"
	"\r\n"
	"ywhiAGsOnPpoaQ==\r\n"
	"=cRIr\r\n"
	"-----END PGP MESSAGE-----\r\n"
;
static const char armour_store[] =
	"-----BEGIN PGP MESSAGE-----\r\n"
	"\r\n"
	"owE7zZHEkM03RyAjEwA=\r\n"
	"=eSTL\r\n"
	"-----END PGP MESSAGE-----\r\n"
;
static const char armour_signed[] =
	"-----BEGIN PGP MESSAGE-----\r\n"
	"\r\n"
	"kA0DAAgWEIcvlwWpvesBywhiAGsOnPpoaYh1BAAWCAAdFiEE7cxU4bjXzYKZO1k4\r\n"
	"EIcvlwWpvesFAmsOnPoACgkQEIcvlwWpvevZXAD9G9RL5+vek6fgAEnHHNn+1pY3\r\n"
	"XrsyCCK4y8szy73CL2UA/3oJpVh889fDK8ajEw1aZAou9C7yMxeK115adH+gHnwP\r\n"
	"=FtBZ\r\n"
	"-----END PGP MESSAGE-----\r\n"
;
static const char armour_trailing[] =
	"-----BEGIN PGP MESSAGE-----\r\n"
	"\r\n"
	"hF4D41IqVOrzjG4SAQdAlZEL2m/FD5yQ3EiKUJbVo9LVIbnVJH41EAfTlMIEAVYw\r\n"
	"M2/I10WqAcvdvqvwhkkNmRzgP139yo88q8SQbh2MkZRj5D373U/YC/4WRakBEJMi\r\n"
	"0j0B2l5uVPVVdqAOVMj07KvvqUcg6HLQw9wFSVcGttBUG/U3fVXuwLR46c5AyC9y\r\n"
	"26/Sk1XeFqEn8Dym49sCowGbwMvMwCEm0K4/nXXl3teMpzmSGLL55ghmZHaUsjCI\r\n"
	"cTDIiimyvD0T8nDH9bNNM60jLWAqWZlAyhi4OAVgImaxjAyLXqn0T9rPv7RDkzH3\r\n"
	"kOnEpp6Dcrej+S8LFWWI5fl4r57L8L9URG/v5Nsvb/W77gg+NpPLta+crUa6alVr\r\n"
	"kMWDjTkdN3gB\r\n"
	"=6Zrd\r\n"
	"-----END PGP MESSAGE-----\r\n"
;
static const char armour_sym[] =
	"-----BEGIN PGP MESSAGE-----\r\n"
	"\r\n"
	"jA0ECQMCkCOUfWdCSgT/0jcB9hzYnOcQ3wsNw6zgthHXJiQ+bxA086F2JyF+1bSg\r\n"
	"cHMcm347mTN0clSXR9iu7OgEuRu+ovkr\r\n"
	"=jXhd\r\n"
	"-----END PGP MESSAGE-----\r\n"
;

static const char encrypted_head[] =
	"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
	"--XyZ\r\nContent-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\n"
	"Version: 1\r\n\r\n"
	"--XyZ\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n";
static const char encrypted_tail[] = "\r\n--XyZ--\r\n";
static char encrypted_body[4096];

/* pgp_mime_of - a PGP/MIME body around armour, into encrypted_body */
static const char *pgp_mime_of(const char *armour)
{
	snprintf(encrypted_body, sizeof(encrypted_body), "%s%s%s", encrypted_head, armour, encrypted_tail);
	return encrypted_body;
}

/* pgp_verdict - the check over body, fed in pieces of piece bytes */
static bool pgp_verdict(const char *type, const char *body, size_t piece, const char **why)
{
	struct pgpmime p;
	size_t len = strlen(body);

	pgpmime_begin(&p, type);
	for (size_t i = 0; i < len; i += piece)
		pgpmime_body(&p, (const unsigned char *)body + i, len - i < piece ? len - i : piece);
	return pgpmime_end(&p, why);
}

static void test_pgp_mime(void **state)
{
	const char *why = NULL;
	char *body;

	(void)state;
	pgp_mime_of(armour_enc);
	for (size_t piece = 1; piece < 40; piece += 7)
		assert_true(pgp_verdict(encrypted_type, encrypted_body, piece, &why));
	assert_false(pgp_verdict(" text/plain", "hello\r\n", 10, &why));
	assert_string_equal(why, "it is not multipart/encrypted");
	assert_false(pgp_verdict(" multipart/encrypted; boundary=XyZ", encrypted_body, 10, &why));
	assert_string_equal(why, "its protocol is not application/pgp-encrypted");
	/* a plain third part smuggled in after the encrypted one */
	body = strdup(encrypted_body);
	body[strlen(body) - strlen("--XyZ--\r\n")] = '\0';
	char smuggled[2048];
	snprintf(smuggled, sizeof(smuggled), "%s--XyZ\r\nContent-Type: text/plain\r\n\r\nbuy now\r\n--XyZ--\r\n", body);
	assert_false(pgp_verdict(encrypted_type, smuggled, 13, &why));
	assert_string_equal(why, "it has more than two MIME parts");
	/* text after the close */
	snprintf(smuggled, sizeof(smuggled), "%sbuy now\r\n", encrypted_body);
	assert_false(pgp_verdict(encrypted_type, smuggled, 13, &why));
	/* no armour */
	snprintf(smuggled, sizeof(smuggled), "--XyZ\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
		 "--XyZ\r\nContent-Type: application/octet-stream\r\n\r\nhello in clear\r\n--XyZ--\r\n");
	assert_false(pgp_verdict(encrypted_type, smuggled, 5, &why));
	assert_string_equal(why, "its second part holds text outside its PGP armour");
	/* unterminated */
	snprintf(smuggled, sizeof(smuggled), "%s", body);
	assert_false(pgp_verdict(encrypted_type, smuggled, 5, &why));
	free(body);
	/* MIME nested 1,000 deep: refused, in one pass, in constant memory */
	char *deep = malloc(1000 * 80 + 64);
	size_t used = 0;
	for (int i = 0; i < 1000; i++)
		used += (size_t)sprintf(deep + used, "--XyZ\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i);
	deep[used] = '\0';
	assert_false(pgp_verdict(encrypted_type, deep, 997, &why));
	assert_string_equal(why, "its first part is not application/pgp-encrypted");
	free(deep);
	pgp_mime_of(armour_enc);
	char value[80];
	assert_true(pgpmime_parameter(" multipart/encrypted; x=\"a;b\"; boundary = \"q\\\"r\"", "boundary", value, sizeof(value)));
	assert_string_equal(value, "q\"r");
	assert_false(pgpmime_parameter(" text/plain; charset=utf-8", "boundary", value, sizeof(value)));
}

/* OpenPGP packets (issue 16): what the armour holds decides */
static void test_pgp_packets(void **state)
{
	static const struct {
		const char *armour;
		const char *want_why;   /* NULL: passes */
	} cases[] = {
		{ armour_enc, NULL },
		{ armour_sym, NULL },
		{ armour_literal, "its PGP message is a literal data packet: the text is in the clear" },
		{ armour_store, "its PGP message is compressed data, not encrypted" },
		{ armour_signed, "its PGP message is signed, not encrypted" },
		{ armour_trailing, "its PGP message has data after its encrypted data packet" },
		/* the old fake: a PKESK header and nothing after it */
		{ "-----BEGIN PGP MESSAGE-----\r\n\r\nhF4DAAAAAAAAAAASAQdAxyz\r\n=abcd\r\n-----END PGP MESSAGE-----\r\n",
		  "its PGP armour is not valid base64 (a partial final quantum)" },
		{ "-----BEGIN PGP MESSAGE-----\r\n\r\nhF4D41Iq*OrzjG4S\r\n-----END PGP MESSAGE-----\r\n",
		  "its PGP armour is not valid base64 (a character outside the alphabet)" },
		{ "-----BEGIN PGP MESSAGE-----\r\n\r\n-----END PGP MESSAGE-----\r\n", "its PGP message is empty" },
		{ "-----BEGIN PGP MESSAGE-----\r\n\r\nqANQR1A=\r\n-----END PGP MESSAGE-----\r\n",
		  "its PGP message holds a marker packet" },
		/* tag 9, the old Symmetrically Encrypted Data (old format, 2 octets) */
		{ "-----BEGIN PGP MESSAGE-----\r\n\r\npAIBAg==\r\n-----END PGP MESSAGE-----\r\n",
		  "its PGP message uses the Symmetrically Encrypted Data packet" },
		/* a SEIPD whose partial first chunk is 2 octets */
		{ "-----BEGIN PGP MESSAGE-----\r\n\r\n0uEBAQE=\r\n-----END PGP MESSAGE-----\r\n",
		  "first partial body length under 512" },
		{ "-----BEGIN PGP MESSAGE-----\r\n\r\n0gUBAgM=\r\n-----END PGP MESSAGE-----\r\n",
		  "its PGP message ends inside a packet" },
		{ "-----BEGIN PGP MESSAGE-----\r\n\r\n0gMBAgM=\r\n", "its PGP armour has no END line" },
		{ "hello\r\n", "its second part holds text outside its PGP armour" },
		{ "", "it holds no ASCII-armoured PGP message" },
	};
	const char *why;
	char body[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pgp_mime_of(cases[i].armour);
		for (size_t piece = 1; piece < 300; piece += 149) {
			bool ok = pgp_verdict(encrypted_type, encrypted_body, piece, &why);
			if (cases[i].want_why == NULL && !ok)
				fail_msg("case %zu: want a pass, got '%s'", i, why);
			if (cases[i].want_why != NULL && (ok || strstr(why, cases[i].want_why) == NULL))
				fail_msg("case %zu: want '%s', got %s", i, cases[i].want_why, ok ? "a pass" : why);
		}
	}
	/* a wrong CRC-24 */
	char *bad = strdup(armour_enc);
	char *crc = strstr(bad, "\r\n=") + 3;
	crc[1] = crc[1] == 'A' ? 'B' : 'A';
	pgp_mime_of(bad);
	assert_false(pgp_verdict(encrypted_type, encrypted_body, 64, &why));
	assert_string_equal(why, "its PGP armour's CRC-24 does not match its data");
	free(bad);
	/* part 2 must be application/octet-stream (RFC 3156 4) */
	snprintf(body, sizeof(body), "--XyZ\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
		 "--XyZ\r\nContent-Type: text/plain\r\n\r\n%s--XyZ--\r\n", armour_enc);
	assert_false(pgp_verdict(encrypted_type, body, 50, &why));
	assert_string_equal(why, "its second part is not application/octet-stream (RFC 3156 4)");
	/* two messages in part 2 */
	snprintf(body, sizeof(body), "%s%s", armour_enc, armour_enc);
	pgp_mime_of(body);
	assert_false(pgp_verdict(encrypted_type, encrypted_body, 50, &why));
	assert_string_equal(why, "it holds more than one PGP message");
}

static bool kind_verdict(enum pgpmime_kind kind, const char *type, const char *join, const char *body,
			 const char **why)
{
	struct pgpmime p;

	pgpmime_begin_kind(&p, kind, type, join);
	pgpmime_body(&p, (const unsigned char *)body, strlen(body));
	return pgpmime_end(&p, why);
}

/* the two cleartext kinds: the Autocrypt Setup Message and Secure-Join */
static void test_cleartext_kinds(void **state)
{
	const char *why;
	char body[4096];
	const char *mixed = " multipart/mixed; boundary=\"S\"";

	(void)state;
	snprintf(body, sizeof(body), "--S\r\nContent-Type: text/plain\r\n\r\nThis is the Autocrypt Setup Message.\r\n"
		 "--S\r\nContent-Type: application/autocrypt-setup\r\n\r\n<html><body><pre>\r\n%s</pre></body></html>\r\n"
		 "--S--\r\n", armour_sym);
	assert_true(kind_verdict(PGPMIME_SETUP, mixed, NULL, body, &why));
	assert_false(kind_verdict(PGPMIME_SETUP, " text/plain", NULL, body, &why));
	assert_string_equal(why, "an Autocrypt Setup Message is multipart/mixed, and this one is not");
	/* the setup data must be passphrase-encrypted, not to a public key */
	snprintf(body, sizeof(body), "--S\r\nContent-Type: text/plain\r\n\r\nx\r\n"
		 "--S\r\nContent-Type: application/autocrypt-setup\r\n\r\n%s--S--\r\n", armour_enc);
	assert_false(kind_verdict(PGPMIME_SETUP, mixed, NULL, body, &why));
	assert_string_equal(why, "its setup data is encrypted to a public key, not with a passphrase");
	snprintf(body, sizeof(body), "--S\r\nContent-Type: text/plain\r\n\r\nx\r\n"
		 "--S\r\nContent-Type: text/plain\r\n\r\n%s--S--\r\n", armour_sym);
	assert_false(kind_verdict(PGPMIME_SETUP, mixed, NULL, body, &why));
	snprintf(body, sizeof(body), "--S\r\nContent-Type: text/plain\r\n\r\nx\r\n"
		 "--S\r\nContent-Type: application/autocrypt-setup\r\n\r\n%s--S--\r\n", armour_literal);
	assert_false(kind_verdict(PGPMIME_SETUP, mixed, NULL, body, &why));
	assert_string_equal(why, "its PGP message is a literal data packet: the text is in the clear");

	assert_true(kind_verdict(PGPMIME_SECUREJOIN, " text/plain; charset=utf-8", "vc-request",
				 "\r\nSecure-Join: vc-request\r\n\r\n", &why));
	assert_true(kind_verdict(PGPMIME_SECUREJOIN, mixed, "vg-request",
				 "--S\r\nContent-Type: text/plain\r\n\r\nsecure-join: VG-request\r\n--S--\r\n", &why));
	assert_false(kind_verdict(PGPMIME_SECUREJOIN, " text/plain", "vc-request",
				  "Secure-Join: vc-request\r\nand some news in the clear\r\n", &why));
	assert_string_equal(why, "a Secure-Join request passes unencrypted only when its body is just its Secure-Join line");
	assert_false(kind_verdict(PGPMIME_SECUREJOIN, " text/plain", "vc-request", "in clear text\r\n", &why));
	assert_false(kind_verdict(PGPMIME_SECUREJOIN, " text/plain", "vc-request", "Secure-Join: vg-request\r\n", &why));
	assert_false(kind_verdict(PGPMIME_SECUREJOIN, " text/html", "vc-request", "Secure-Join: vc-request\r\n", &why));
	assert_false(kind_verdict(PGPMIME_SECUREJOIN, mixed, "vc-request",
				  "--S\r\n\r\nSecure-Join: vc-request\r\n--S\r\nContent-Type: text/plain\r\n\r\nmore\r\n--S--\r\n", &why));
	assert_string_equal(why, "it has more than one MIME part");
}

/* with_field - the RFC 8463 message with one field put at index at
   (SIZE_MAX: none), and the field named skip left out */
static size_t with_field(const char *(*out)[2], const char *name, const char *value, size_t at,
			 const char *skip)
{
	size_t n = 0;

	for (size_t i = 0; i <= 7; i++) {
		if (i == at) {
			out[n][0] = name;
			out[n++][1] = value;
		}
		if (i < 7 && (skip == NULL || strcmp(rfc8463_headers[i][0], skip) != 0)) {
			out[n][0] = rfc8463_headers[i][0];
			out[n++][1] = rfc8463_headers[i][1];
		}
	}
	return n;
}

/* RFC 6376 6.1: each signature on its own; one that does not parse is
   "neutral" beside the others, wherever it stands */
static void test_each_signature_judged_alone(void **state)
{
	const char *headers[8][2];
	struct auth_outcome out;
	char md5[1024];

	(void)state;
	for (size_t at = 0; at <= 2; at++) {
		size_t n = with_field(headers, "DKIM-Signature",
				      " v=1; a=rsa-sha256; d=football.example.com; s=test; bh", at, NULL);
		verify((const char *const (*)[2])headers, n, rfc8463_body, &out);
		assert_int_equal(out.dkim_count, 3);
		for (size_t i = 0; i < 3; i++) {
			if (i == at) {
				assert_int_equal(out.dkim[i].result, AUTH_NEUTRAL);
				assert_non_null(strstr(out.dkim[i].reason, "syntax"));
				assert_string_equal(out.dkim[i].selector, "test");
			} else {
				assert_int_equal(out.dkim[i].result, AUTH_PASS);
			}
		}
		assert_true(authcheck_dkim_aligned(&out, "football.example.com"));
	}
	/* an unknown algorithm is named as what it is, not rsa-sha1 */
	snprintf(md5, sizeof(md5), "%s", rfc8463_headers[1][1]);
	memcpy(strstr(md5, "a=rsa-sha256"), "a=rsa-md5;   ", 12);
	size_t n = with_field(headers, "DKIM-Signature", md5, 0, NULL);
	verify((const char *const (*)[2])headers, n, rfc8463_body, &out);
	assert_int_equal(out.dkim_count, 3);
	assert_int_equal(out.dkim[0].result, AUTH_NEUTRAL);
	assert_string_equal(out.dkim[0].algorithm, "rsa-md5");
	assert_null(strstr(out.dkim[0].reason, "rsa-sha1"));
	assert_int_equal(out.dkim[1].result, AUTH_PASS);
	assert_int_equal(out.dkim[2].result, AUTH_PASS);
	/* a key that does not exist is permanent */
	n = with_field(headers, "DKIM-Signature",
		       " v=1; a=ed25519-sha256; d=football.example.com; s=gone; h=from;"
		       " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA", 0, NULL);
	verify((const char *const (*)[2])headers, n, rfc8463_body, &out);
	assert_int_equal(out.dkim_count, 3);
	assert_int_equal(out.dkim[0].result, AUTH_PERMERROR);
	assert_int_equal(out.dkim[1].result, AUTH_PASS);
	/* signatures on a message without From: each a permerror, not none */
	n = with_field(headers, NULL, NULL, SIZE_MAX, "From");
	verify((const char *const (*)[2])headers, n, rfc8463_body, &out);
	assert_int_equal(out.dkim_count, 2);
	assert_int_equal(out.dkim[0].result, AUTH_PERMERROR);
	assert_string_equal(out.dkim[0].selector, "brisbane");
	assert_non_null(strstr(out.dkim[0].reason, "From"));
	assert_int_equal(out.dkim[1].result, AUTH_PERMERROR);
}

/* a key DNS did not give holds a decision only when it is aligned */
static void test_dkim_pending_only_when_aligned(void **state)
{
	struct auth_outcome out;

	(void)state;
	memset(&out, 0, sizeof(out));
	out.dkim_count = 2;
	out.dkim[0].result = AUTH_PASS;
	snprintf(out.dkim[0].domain, sizeof(out.dkim[0].domain), "other.example");
	out.dkim[1].result = AUTH_TEMPERROR;
	snprintf(out.dkim[1].domain, sizeof(out.dkim[1].domain), "other.example");
	assert_false(authcheck_dkim_aligned(&out, "mail.example.org"));
	assert_false(authcheck_dkim_pending(&out, "mail.example.org"));
	snprintf(out.dkim[1].domain, sizeof(out.dkim[1].domain), "example.org");
	assert_true(authcheck_dkim_pending(&out, "mail.example.org"));
	assert_false(authcheck_dkim_pending(&out, "example.com"));
}

int main(void)
{
	char error[256];
	int fd = mkstemp(key_file);

	if (fd < 0 || write(fd, rfc8463_keys, strlen(rfc8463_keys)) != (ssize_t)strlen(rfc8463_keys))
		return 1;
	close(fd);
	authcheck_use_key_file(key_file);
	if (authcheck_init(5, error, sizeof(error)) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relaxed_header_rfc6376_example),
		cmocka_unit_test(test_relaxed_body),
		cmocka_unit_test(test_mailboxes),
		cmocka_unit_test(test_authres_claims),
		cmocka_unit_test(test_rfc8463_example_verifies),
		cmocka_unit_test(test_check_outlives_its_thread),
		cmocka_unit_test(test_our_signatures_verify),
		cmocka_unit_test(test_authres_format),
		cmocka_unit_test(test_pgp_mime),
		cmocka_unit_test(test_each_signature_judged_alone),
		cmocka_unit_test(test_dkim_pending_only_when_aligned),
		cmocka_unit_test(test_pgp_packets),
		cmocka_unit_test(test_cleartext_kinds),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	authcheck_deinit();
	unlink(key_file);
	return failed;
}
