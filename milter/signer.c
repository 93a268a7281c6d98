/* signer.c - mailbag-milter's DKIM signer, on OpenSSL.
 *
 * libopendkim parses the PEM private key again for every message it
 * signs (about half its cost per message); here keys are parsed once
 * (keys.c) and kept. Only what DKIM itself specifies is done here:
 * relaxed/relaxed canonicalization (canon.c), SHA-256, rsa-sha256
 * (RSASSA-PKCS1-v1_5) and ed25519-sha256 (RFC 8463: Ed25519 over the
 * SHA-256 of the header data). The milter's tests verify what it signs
 * with dkimpy and libopendkim.
 */
#include "signer.h"
#include "canon.h"
#include "grow.h"

#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* a field name in h= (RFC 5322 gives none; ours are under 30) and how
   many distinct ones a list may hold */
#define FIELD_NAME_MAX 63
#define SIGNED_NAMES_MAX 64
/* base64 of n octets, with its NUL */
#define BASE64_SIZE(n) (((n) + 2) / 3 * 4 + 1)

/* The fields signed when present: what a reader sees and what MIME
   needs to show it. */
static const char *const signed_names[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id", "sender",
	"resent-date", "resent-from", "resent-sender", "resent-to", "resent-cc",
	"in-reply-to", "references", "list-id", "list-help", "list-unsubscribe",
	"list-subscribe", "list-post", "list-owner", "list-archive", "autocrypt",
	"mime-version", "content-type", "content-transfer-encoding", "content-disposition",
	NULL,
};

/* Named once more than they occur, so that one added later breaks the
   signature (the chatmail seed's OversignHeaders). */
static const char *const oversigned_names[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from",
	"resent-sender", "resent-to", "resent-cc", "in-reply-to", "references", "list-id",
	"list-help", "list-unsubscribe", "list-subscribe", "list-post", "list-owner",
	"list-archive", "autocrypt", NULL,
};

const char *signer_algorithm_name(enum dkim_algorithm algorithm)
{
	return algorithm == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256";
}

static bool listed(const char *const *names, const char *name)
{
	for (size_t i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

/* header_names - the h= list for this message */
static int header_names(const struct header_list *headers, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; signed_names[i] != NULL; i++) {
		size_t n = headers_count(headers, signed_names[i]);
		if (n > 0 && listed(oversigned_names, signed_names[i]))
			n++;
		for (; n > 0; n--) {
			int w = snprintf(out + used, size - used, "%s%s", used > 0 ? ":" : "", signed_names[i]);
			if (w < 0 || (size_t)w >= size - used)
				return -1;
			used += (size_t)w;
		}
	}
	return 0;
}

static int base64(const unsigned char *in, size_t len, char *out, size_t size)
{
	if (size < 4 * ((len + 2) / 3) + 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* hash_headers - SHA-256 of the signed fields, each name of h= taking
   that name's fields from the bottom up, then the signature field */
static int hash_headers(const struct header_list *headers, const char *names,
			const char *signature_value, unsigned char digest[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *canon = NULL;
	size_t canon_size = 0;
	int ret = -1;
	char name[FIELD_NAME_MAX + 1];
	char seen_names[SIGNED_NAMES_MAX][FIELD_NAME_MAX + 1]; /* each distinct name of h=, and how many */
	size_t used_of[SIGNED_NAMES_MAX] = { 0 };              /* of its fields were taken */
	size_t seen_count = 0;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (const char *p = names; *p != '\0';) {
		size_t len = strcspn(p, ":");
		if (len == 0 || len >= sizeof(name))
			goto out;
		memcpy(name, p, len);
		name[len] = '\0';
		p += len + (p[len] == ':');
		/* how many of this name were taken already */
		size_t k;
		for (k = 0; k < seen_count && strcasecmp(seen_names[k], name) != 0; k++)
			;
		if (k == seen_count) {
			if (seen_count == SIGNED_NAMES_MAX)
				goto out;
			memcpy(seen_names[seen_count++], name, len + 1);
		}
		size_t count = headers_count(headers, name);
		if (used_of[k] >= count) {
			used_of[k]++;
			continue; /* named more often than present: nothing */
		}
		const struct header *h = headers_nth(headers, name, count - used_of[k]);
		used_of[k]++;
		char *bigger = mb_grow(canon, &canon_size, h->name_len + h->value_len + 3, 1, 256);
		if (bigger == NULL)
			goto out;
		canon = bigger;
		size_t n = canon_header_relaxed(h->name, h->name_len, h->value, h->value_len, true, canon);
		EVP_DigestUpdate(md, canon, n);
	}
	size_t value_len = strlen(signature_value);
	char *sig_canon = malloc(value_len + 20);
	if (sig_canon == NULL)
		goto out;
	size_t n = canon_header_relaxed("DKIM-Signature", 14, signature_value, value_len, false, sig_canon);
	EVP_DigestUpdate(md, sig_canon, n);
	free(sig_canon);
	unsigned int len = SHA256_DIGEST_LENGTH;
	ret = EVP_DigestFinal_ex(md, digest, &len) == 1 ? 0 : -1;
out:
	free(canon);
	EVP_MD_CTX_free(md);
	return ret;
}

/* sign_digest - the signature over the header hash */
static int sign_digest(const struct dkim_signing_key *key, const unsigned char digest[SHA256_DIGEST_LENGTH],
		       unsigned char *sig, size_t *sig_len)
{
	int ok = 0;

	if (key->algorithm == DKIM_ED25519_SHA256) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
			EVP_DigestSign(md, sig, sig_len, digest, SHA256_DIGEST_LENGTH) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key->pkey, NULL);
		ok = pctx != NULL && EVP_PKEY_sign_init(pctx) == 1 &&
			EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
			EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
			EVP_PKEY_sign(pctx, sig, sig_len, digest, SHA256_DIGEST_LENGTH) == 1;
		EVP_PKEY_CTX_free(pctx);
	}
	return ok ? 0 : -1;
}

/* append_folded - base64 text in lines of 72, "\n\t " between them */
static int append_folded(char *out, size_t size, size_t used, const char *text)
{
	size_t len = strlen(text);

	for (size_t i = 0; i < len; i += 72) {
		size_t piece = len - i < 72 ? len - i : 72;
		int w = snprintf(out + used, size - used, "%s%.*s", i > 0 ? "\n\t " : "", (int)piece, text + i);
		if (w < 0 || (size_t)w >= size - used)
			return -1;
		used += (size_t)w;
	}
	return (int)used;
}

int signer_sign_listed(const struct dkim_signing_key *key, const struct header_list *headers,
		       const char *names, const unsigned char body_hash[SHA256_DIGEST_LENGTH], time_t now,
		       char *out, size_t out_size, char *error, size_t error_size)
{
	char bh[BASE64_SIZE(SHA256_DIGEST_LENGTH)], b[BASE64_SIZE(SIGNER_SIGNATURE_MAX)];
	unsigned char digest[SHA256_DIGEST_LENGTH], sig[SIGNER_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	int used;

	base64(body_hash, SHA256_DIGEST_LENGTH, bh, sizeof(bh));
	used = snprintf(out, out_size,
			"v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s; t=%lld;\n\th=%s;\n\tbh=%s;\n\tb=",
			signer_algorithm_name(key->algorithm), key->domain, key->selector,
			(long long)now, names, bh);
	if (used < 0 || (size_t)used >= out_size) {
		snprintf(error, error_size, "the DKIM-Signature field would be longer than %zu bytes", out_size);
		return -1;
	}
	if (hash_headers(headers, names, out, digest) < 0) {
		snprintf(error, error_size, "hashing the header for %s failed (bad h= list or out of memory)",
			 key->selector);
		return -1;
	}
	if (EVP_PKEY_size(key->pkey) > (int)sizeof(sig) || sign_digest(key, digest, sig, &sig_len) < 0) {
		snprintf(error, error_size, "OpenSSL could not sign with the %s key %s of %s",
			 signer_algorithm_name(key->algorithm), key->selector, key->domain);
		return -1;
	}
	if (base64(sig, sig_len, b, sizeof(b)) < 0 || (used = append_folded(out, out_size, (size_t)used, b)) < 0) {
		snprintf(error, error_size, "the DKIM-Signature field would be longer than %zu bytes", out_size);
		return -1;
	}
	return used;
}

int signer_sign(const struct dkim_signing_key *key, const struct header_list *headers,
		const unsigned char body_hash[SHA256_DIGEST_LENGTH], time_t now,
		char *out, size_t out_size, char *error, size_t error_size)
{
	char names[SIGNER_NAMES_SIZE];

	if (header_names(headers, names, sizeof(names)) < 0) {
		snprintf(error, error_size, "too many header fields to sign");
		return -1;
	}
	return signer_sign_listed(key, headers, names, body_hash, now, out, out_size, error, error_size);
}
