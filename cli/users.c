/* users.c - mailboxes added, changed, deleted
 *
 * SUMMARY
 *	The actions of `mailbag user add|del|passwd|disable|enable|quota|
 *	node` (cmd-user.c parses their arguments and prints what they did).
 *	A password is taken as an existing hash, read from stdin or
 *	generated; `add` makes the home when run as root (home.c); `del`
 *	takes the user out of the aliases naming it, or notes them when
 *	they are kept; a change reads the record, changes one thing and
 *	writes it back.
 *
 * SECURITY
 *	Plain passwords are wiped from memory after hashing and never
 *	logged; a generated one is only handed to the caller's callback.
 */
#include "users.h"
#include "account.h"
#include "grow.h"
#include "home.h"
#include "password.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

/* read_password_stdin - the first line of stdin, without its newline */
static int read_password_stdin(struct cli *cli, char *buf, size_t size)
{
	if (fgets(buf, (int)size, stdin) == NULL)
		return cli_fail(cli, EX_NOINPUT, "--password-stdin: no password on standard input");
	size_t len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && len == size - 1)
		return cli_fail(cli, EX_DATAERR, "--password-stdin: the password is longer than %d characters", MB_PASSWORD_MAX);
	buf[len] = '\0';
	return EX_OK;
}

/* make_hash - the hash from the source: a given hash, stdin or a
   generated password, which generated_r then holds ("" otherwise) */
static int make_hash(struct cli *cli, const struct cli_password_source *source,
		     char hash[MB_HASH_MAX], char generated_r[CLI_GENERATED_PASSWORD_LEN + 1])
{
	char plain[MB_PASSWORD_MAX + 2];
	const char *error;
	int ret = EX_OK;

	generated_r[0] = '\0';
	if (source->hash != NULL) {
		if (mb_password_hash_check(source->hash, &error) < 0)
			return cli_fail(cli, EX_DATAERR, "--hash: %s", error);
		snprintf(hash, MB_HASH_MAX, "%s", source->hash);
		return EX_OK;
	}
	if (source->from_stdin) {
		ret = read_password_stdin(cli, plain, sizeof(plain));
	} else {
		mb_password_generate(generated_r, CLI_GENERATED_PASSWORD_LEN);
		snprintf(plain, sizeof(plain), "%s", generated_r);
	}
	if (ret == EX_OK && mb_password_hash(plain, hash, &error) < 0)
		ret = cli_fail(cli, EX_DATAERR, "%s", error);
	sodium_memzero(plain, sizeof(plain));
	return ret;
}

int cli_user_add(struct cli *cli, const char *address, const struct cli_user_options *opts,
		 cli_user_password_cb *added, void *context)
{
	char hash[MB_HASH_MAX], generated[CLI_GENERATED_PASSWORD_LEN + 1], error[1024];
	char home[4096];
	struct mb_user user;
	int ret;

	mb_account_prepare(cli->ctx, address, &user, home, sizeof(home));
	if (opts->set_quota)
		user.quota_bytes = opts->quota_bytes;
	if (opts->set_max_message)
		user.max_message_bytes = opts->max_message_bytes;
	if ((ret = make_hash(cli, &opts->password, hash, generated)) != EX_OK)
		return ret;
	user.password_hash = hash;
	user.enabled = !opts->disabled;
	ret = mb_store_user_add(cli->store, &user, error, sizeof(error));
	sodium_memzero(hash, sizeof(hash));
	if (ret < 0) {
		sodium_memzero(generated, sizeof(generated));
		return cli_fail(cli, cli_store_exit_code(ret), "%s", error);
	}
	added(address, generated, context);
	sodium_memzero(generated, sizeof(generated));
	return cli_make_home(cli, user.home);
}

/* cli_user_random_address - 9 random letters and digits (the chatmail
   seed's "newemail") on the domain, not taken yet */
int cli_user_random_address(struct cli *cli, const char *domain_text, char address_r[MB_ADDRESS_MAX + 1])
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyz23456789";
	char domain[MB_DOMAIN_MAX + 1], local[10], error[1024];
	struct mb_user user;

	if (cli_parse_domain(cli, domain_text, domain) < 0)
		return EX_DATAERR;
	for (int attempt = 0; attempt < 10; attempt++) {
		for (size_t i = 0; i < sizeof(local) - 1; i++)
			local[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
		local[sizeof(local) - 1] = '\0';
		snprintf(address_r, MB_ADDRESS_MAX + 1, "%s@%s", local, domain);
		int ret = mb_store_user_get(cli->store, address_r, &user, error, sizeof(error));
		if (ret == 0)
			return EX_OK;
		if (ret > 0)
			mb_user_clear(&user);
		else
			return cli_fail(cli, EX_TEMPFAIL, "%s", error);
	}
	return cli_fail(cli, EX_SOFTWARE, "no free random address found in %s", domain);
}

static int note_alias(const struct mb_alias *alias, void *context)
{
	struct cli_alias_notes *n = context;
	struct cli_alias_note *grown = mb_grow(n->notes, &n->capacity, n->count + 1, sizeof(*grown), 0);

	if (grown == NULL) {
		n->failed = true;
		return 1;
	}
	n->notes = grown;
	snprintf(grown[n->count].source, sizeof(grown[0].source), "%s", alias->source);
	grown[n->count].action = n->kept ? "kept" : alias->target_count == 0 ? "deleted" : "removed";
	n->count++;
	return 0;
}

int cli_user_del(struct cli *cli, const char *address, bool purge, bool keep_aliases,
		 struct cli_alias_notes *notes_r)
{
	const char *delimiters = cli->ctx->recipient_delimiter;
	char error[1024];
	struct mb_user user;
	int ret = mb_store_user_get(cli->store, address, &user, error, sizeof(error));

	memset(notes_r, 0, sizeof(*notes_r));
	notes_r->kept = keep_aliases;
	if (ret == 0)
		return cli_fail(cli, EX_NOUSER, "user %s does not exist", address);
	if (ret < 0 && purge)
		return cli_fail(cli, EX_DATAERR, "%s; without its record the mailbox to purge is unknown: delete without --purge, then remove the mailbox by hand", error);
	/* a damaged record can still be deleted: that is how it is repaired */
	if (keep_aliases) {
		ret = mb_store_user_del(cli->store, address, error, sizeof(error));
		if (ret == 0 && mb_store_aliases_naming(cli->store, address, delimiters, note_alias, notes_r,
							error, sizeof(error)) < 0)
			fprintf(stderr, "mailbag: user del: user deleted, but the aliases naming it cannot be listed: %s\n", error);
	} else {
		ret = mb_store_user_del_unalias(cli->store, address, delimiters, note_alias, notes_r,
						error, sizeof(error));
	}
	if (ret < 0) {
		mb_user_clear(&user);
		return cli_fail(cli, cli_store_exit_code(ret), "%s", error);
	}
	int exit_code = purge ? cli_purge_home(cli, user.home) : EX_OK;
	mb_user_clear(&user);
	return exit_code;
}

/* One change of a user record: EX_OK, or the exit code (printed) */
typedef int user_change_fn(struct cli *cli, struct mb_user *user, const void *arg);

/* change_user - read the record, change it, write it back */
static int change_user(struct cli *cli, const char *address, user_change_fn *change, const void *arg)
{
	char error[1024];
	struct mb_user user;
	int ret = mb_store_user_get(cli->store, address, &user, error, sizeof(error));

	if (ret <= 0)
		return ret < 0 ? cli_fail(cli, EX_TEMPFAIL, "%s", error) :
				 cli_fail(cli, EX_NOUSER, "user %s does not exist", address);
	char *old_hash = user.password_hash;
	ret = change(cli, &user, arg);
	if (ret == EX_OK) {
		int sret = mb_store_user_update(cli->store, &user, error, sizeof(error));
		if (sret < 0)
			ret = cli_fail(cli, cli_store_exit_code(sret), "%s", error);
	}
	/* a change may point the hash at its own buffer */
	user.password_hash = old_hash;
	mb_user_clear(&user);
	return ret;
}

struct new_password {
	const struct cli_password_source *source;
	char hash[MB_HASH_MAX];
	char generated[CLI_GENERATED_PASSWORD_LEN + 1];
};

static int change_password(struct cli *cli, struct mb_user *user, const void *arg)
{
	struct new_password *np = (struct new_password *)arg;
	int ret = make_hash(cli, np->source, np->hash, np->generated);

	user->password_hash = np->hash;
	return ret;
}

int cli_user_passwd(struct cli *cli, const char *address, const struct cli_password_source *password,
		    cli_user_password_cb *changed, void *context)
{
	struct new_password np = { .source = password, .generated = "" };
	int ret = change_user(cli, address, change_password, &np);

	sodium_memzero(np.hash, sizeof(np.hash));
	if (ret == EX_OK)
		changed(address, np.generated, context);
	sodium_memzero(np.generated, sizeof(np.generated));
	return ret;
}

static int change_enabled(struct cli *cli, struct mb_user *user, const void *arg)
{
	(void)cli;
	user->enabled = *(const bool *)arg;
	return EX_OK;
}

int cli_user_set_enabled(struct cli *cli, const char *address, bool enabled)
{
	return change_user(cli, address, change_enabled, &enabled);
}

static int change_quota(struct cli *cli, struct mb_user *user, const void *arg)
{
	(void)cli;
	user->quota_bytes = *(const uint64_t *)arg;
	return EX_OK;
}

int cli_user_set_quota(struct cli *cli, const char *address, uint64_t quota_bytes)
{
	return change_user(cli, address, change_quota, &quota_bytes);
}

/* change_node - the Dovecot node holding the mailbox: "local", this
   node's name or a name of the context's nodes or lmtpd.nodes */
static int change_node(struct cli *cli, struct mb_user *user, const void *arg)
{
	const char *name = arg;

	if (user->move.phase != MB_MOVE_NONE && user->move.phase != MB_MOVE_DONE)
		return cli_fail(cli, EX_DATAERR, "a move of %s to node %s is under way; finish it with "
				"'mailbag user move %s %s' (or --cancel)", user->address, user->move.to,
				user->address, user->move.to);
	if (strcmp(name, "local") == 0) {
		user->node[0] = '\0';
		return EX_OK;
	}
	if (!mb_context_node_is_local(cli->ctx, name) && mb_context_node(cli->ctx, name) == NULL)
		return cli_fail(cli, EX_DATAERR, "node '%s' is not in the context's nodes or lmtpd.nodes (nor 'local')", name);
	snprintf(user->node, sizeof(user->node), "%s", name);
	return EX_OK;
}

int cli_user_set_node(struct cli *cli, const char *address, const char *node)
{
	return change_user(cli, address, change_node, node);
}
