/* mta-sts.c - the MTA-STS policy this host serves, and its record's id
 *
 * SUMMARY
 *	One policy text (RFC 8461 3.2) for every domain: `mailbag web build`
 *	writes it, `mailbag dns records` publishes the id of the _mta-sts
 *	record derived from it, and `mailbag dns check` compares that id
 *	with DNS. The id is the first 8 bytes of the text's SHA-256, so it
 *	changes whenever the policy does.
 */
#include "mta-sts.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

void cli_mta_sts_policy(const char *host, char *buf, size_t size)
{
	snprintf(buf, size, "version: STSv1\nmode: enforce\nmx: %s\nmax_age: 604800\n", host);
}

/* cli_mta_sts_id - changes whenever the policy text does (RFC 8461 3.1) */
void cli_mta_sts_id(const char *policy, char id[17])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_Digest(policy, strlen(policy), digest, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(id + 2 * i, 3, "%02x", digest[i]);
}

