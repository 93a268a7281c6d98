/* dkim-keys.h - a domain's DKIM keys (see dkim-keys.c). */
#ifndef MAILBAG_CLI_DKIM_KEYS_H
#define MAILBAG_CLI_DKIM_KEYS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "cli.h"
#include "dkim-rotation.h"

#define CLI_DKIM_SELECTOR_MAX 63
#define CLI_DKIM_KEYS_MAX 256

struct cli_dkim_key {
	char selector[CLI_DKIM_SELECTOR_MAX + 1];
	EVP_PKEY *key;
	int type;         /* EVP_PKEY_RSA or EVP_PKEY_ED25519 */
};

/* One key's DNS TXT record (state NULL for a key just made). */
typedef void cli_dkim_record_cb(const char *selector, const char *value, const char *state,
				void *context);

/* Make the RSA and Ed25519 keys BASEr and BASEe (base NULL: mbYYYYMMDD,
   today) of domain in the context's dkim.key_dir, made called (when not
   NULL) with each one's record once it is written. EX_OK, or the exit
   code with the reason printed. */
int cli_dkim_keygen(struct cli *cli, const char *domain, const char *base, cli_dkim_record_cb *made,
		    void *context);

/* The DKIM records a domain must have in DNS now (its signing, pending
   and still-retiring keys): cb per key. How many, or -1 (printed). */
int cli_dkim_published(struct cli *cli, const char *domain, cli_dkim_record_cb *cb, void *context);

/* Every DIR/SELECTOR.key of domain, by selector, into keys (room for
   CLI_DKIM_KEYS_MAX): the count, or -1 (printed). Free with
   cli_dkim_free_keys(). */
int cli_dkim_read_keys(struct cli *cli, const char *dir, const char *domain, struct cli_dkim_key *keys);
void cli_dkim_free_keys(struct cli_dkim_key *keys, int count);
/* one PEM private key file, NULL when unreadable */
EVP_PKEY *cli_dkim_read_key(const char *path);
/* "v=DKIM1; k=...; p=..." for a key (malloc'd; NULL out of memory) */
char *cli_dkim_txt_value(EVP_PKEY *key);
/* what key k does now, as the milter sees it: "signing", "pending: ...",
   "retired ...", "unused" */
void cli_dkim_key_state(const struct mb_dkim_rotation *rotation, const struct cli_dkim_key *keys, int count,
			int k, int64_t now, char *buf, size_t size);
bool cli_dkim_set_has(const struct mb_dkim_set *set, const char *selector);
/* whether key k is the newest of its algorithm */
bool cli_dkim_newest_of_type(const struct cli_dkim_key *keys, int count, int k);
/* when as the rotation messages show it */
void cli_dkim_format_time(int64_t when, char *buf, size_t size);
/* the daemon user's group, or -1: the owner group of the key files */
gid_t cli_dkim_key_group(const struct cli *cli);

#endif
