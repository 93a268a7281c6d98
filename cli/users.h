/* users.h - mailboxes added, changed, deleted (see users.c). */
#ifndef MAILBAG_CLI_USERS_H
#define MAILBAG_CLI_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

#define CLI_GENERATED_PASSWORD_LEN 20

/* Where a password comes from: an existing hash, the first line of
   stdin, or (neither) generated. */
struct cli_password_source {
	const char *hash;
	bool from_stdin;
};

struct cli_user_options {
	struct cli_password_source password;
	bool disabled;
	/* each a size (0 = none) or MB_LIMIT_DEFAULT, set when its flag is */
	bool set_quota, set_max_message;
	uint64_t quota_bytes, max_message_bytes;
};

/* Said once the record is stored: generated is the password made for
   it, or "" (wiped after the call). */
typedef void cli_user_password_cb(const char *address, const char *generated, void *context);

/* Each takes a parsed address and the open store (cli_store()); EX_OK,
   or the exit code with the reason printed. */

/* Add the user (then, as root, make its home), said through added. */
int cli_user_add(struct cli *cli, const char *address, const struct cli_user_options *opts,
		 cli_user_password_cb *added, void *context);
/* A fresh address on domain (text, parsed here) that is not taken. */
int cli_user_random_address(struct cli *cli, const char *domain_text, char address_r[MB_ADDRESS_MAX + 1]);

/* One alias user del changed, or left naming the user */
struct cli_alias_note {
	char source[MB_ADDRESS_MAX + 1];
	const char *action; /* "removed", "deleted" (no target left), "kept" */
};
struct cli_alias_notes {
	struct cli_alias_note *notes;
	size_t count, capacity;
	bool kept;   /* --keep-aliases: the aliases were left naming it */
	bool failed; /* out of memory noting them: the notes are not all */
};
/* Delete the user (purge: and its mailbox), taking it out of the aliases
   naming it unless keep_aliases; notes_r says which (free its notes). */
int cli_user_del(struct cli *cli, const char *address, bool purge, bool keep_aliases,
		 struct cli_alias_notes *notes_r);

/* Change one thing of an existing user. */
int cli_user_passwd(struct cli *cli, const char *address, const struct cli_password_source *password,
		    cli_user_password_cb *changed, void *context);
int cli_user_set_enabled(struct cli *cli, const char *address, bool enabled);
int cli_user_set_quota(struct cli *cli, const char *address, uint64_t quota_bytes);
/* node: "local" or a name of the context's lmtpd.nodes */
int cli_user_set_node(struct cli *cli, const char *address, const char *node);

#endif
