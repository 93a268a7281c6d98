/* import-apply-keys.c - an import plan's DKIM keys and TLS certificates
 *
 * SUMMARY
 *	DKIM: each imported private key is kept with its selector, so the
 *	records already in DNS go on verifying: it is written as
 *	dkim.key_dir/DOMAIN/SELECTOR.key (0640, root and the daemon user's
 *	group, as `dkim keygen` makes them) and the domain's rotation file
 *	names the imported selectors as the signing set. A key file already
 *	there is unchanged when it holds the same key, a problem otherwise.
 *	Certificates: each becomes an entry of the context file's
 *	tls.certificates (host name -> cert, key), then `tls apply` writes
 *	Postfix's and Dovecot's SNI files; an entry already there is
 *	unchanged when it names the same files, a problem otherwise.
 */
#include "import-apply-internal.h"
#include "dkim-keys.h"
#include "dkim-rotation.h"
#include "files.h"
#include "tls-apply.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

static bool selector_valid(const char *s)
{
	size_t len = strlen(s);
	return len >= 1 && len < CLI_DKIM_SELECTOR_MAX &&
		strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len && s[0] != '-';
}

static int problem(struct import_plan *plan, const struct import_origin *o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int problem(struct import_plan *plan, const struct import_origin *o, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return import_plan_problem(plan, o->file, o->line, "%s", text) < 0 ? -1 : 0;
}

int import_check_dkim(struct cli *cli, struct import_plan *plan, enum import_state *states)
{
	char path[4400];

	for (size_t i = 0; i < plan->dkim_key_count; i++) {
		const struct import_dkim_key *k = &plan->dkim_keys[i];
		states[i] = IMPORT_NEW;
		if (!selector_valid(k->selector)) {
			if (problem(plan, &k->origin, "%s: DKIM selector '%.63s' is not one mailbag keeps (1 to 62 of a-z 0-9 -)",
				    k->domain, k->selector) < 0)
				return -1;
			continue;
		}
		EVP_PKEY *key = cli_dkim_read_key(k->private_key_file);
		if (key == NULL) {
			if (problem(plan, &k->origin, "%s: %s is not a private key OpenSSL can read", k->domain,
				    k->private_key_file) < 0)
				return -1;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s/%s.key", cli->ctx->dkim.key_dir, k->domain, k->selector);
		EVP_PKEY *kept = access(path, F_OK) == 0 ? cli_dkim_read_key(path) : NULL;
		bool exists = access(path, F_OK) == 0;
		bool same = kept != NULL && EVP_PKEY_eq(kept, key) == 1;
		EVP_PKEY_free(kept);
		EVP_PKEY_free(key);
		if (exists)
			states[i] = IMPORT_UNCHANGED;
		if (exists && !same &&
		    problem(plan, &k->origin, "%s: %s holds another key under that selector; not replaced",
			    k->domain, path) < 0)
			return -1;
	}
	return 0;
}

static int make_dir(struct cli *cli, const char *path)
{
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return cli_fail(cli, EX_CANTCREAT, "cannot create %s: %m", path);
	gid_t gid = cli_dkim_key_group(cli);
	if (geteuid() == 0 && gid != (gid_t)-1 && chown(path, 0, gid) < 0)
		return cli_fail(cli, EX_CANTCREAT, "cannot give %s to group %s: %m", path, cli->ctx->daemon_user);
	return EX_OK;
}

static int write_key(struct cli *cli, const char *path, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cli_fail(cli, EX_CANTCREAT, "cannot create %s: %m", path);
	FILE *f = fdopen(fd, "w");
	bool ok = f != NULL && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	gid_t gid = cli_dkim_key_group(cli);
	if (ok && geteuid() == 0 && gid != (gid_t)-1)
		ok = fchown(fd, 0, gid) == 0;
	ok = ok && fchmod(fd, 0640) == 0;
	if (f != NULL ? fclose(f) != 0 : close(fd) != 0)
		ok = false;
	if (!ok) {
		unlink(path);
		return cli_fail(cli, EX_IOERR, "cannot write %s", path);
	}
	return EX_OK;
}

/* sign_with - the domain's rotation: its signing set holds selector */
static int sign_with(struct cli *cli, const char *dir, const char *selector)
{
	char error[1024];
	struct mb_dkim_rotation rotation;

	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0)
		return cli_fail(cli, EX_DATAERR, "%s", error);
	if (cli_dkim_set_has(&rotation.signing, selector))
		return EX_OK;
	if (rotation.signing.count >= MB_DKIM_SET_MAX)
		rotation.signing.count = 0;
	snprintf(rotation.signing.selectors[rotation.signing.count++], MB_DKIM_SELECTOR_MAX + 1, "%s", selector);
	rotation.pending.count = 0;
	if (mb_dkim_rotation_write(dir, &rotation, (long)cli_dkim_key_group(cli), error, sizeof(error)) < 0)
		return cli_fail(cli, EX_IOERR, "%s", error);
	return EX_OK;
}

int import_write_dkim(struct cli *cli, const struct import_plan *plan, const enum import_state *states,
		      struct import_tally *tally)
{
	char dir[4096], path[4400];

	for (size_t i = 0; i < plan->dkim_key_count; i++) {
		const struct import_dkim_key *k = &plan->dkim_keys[i];
		if (states[i] != IMPORT_NEW) {
			tally->unchanged++;
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim.key_dir, k->domain);
		snprintf(path, sizeof(path), "%s/%s.key", dir, k->selector);
		EVP_PKEY *key = cli_dkim_read_key(k->private_key_file);
		if (key == NULL)
			return cli_fail(cli, EX_NOINPUT, "%s: cannot read the key any more", k->private_key_file);
		int ret = make_dir(cli, cli->ctx->dkim.key_dir);
		if (ret == EX_OK)
			ret = make_dir(cli, dir);
		if (ret == EX_OK)
			ret = write_key(cli, path, key);
		EVP_PKEY_free(key);
		if (ret == EX_OK)
			ret = sign_with(cli, dir, k->selector);
		if (ret != EX_OK)
			return ret;
		printf("%s: DKIM key %s kept: %s signs with it (the record in DNS stays as it is)\n", k->domain,
		       k->selector, k->domain);
		tally->made++;
	}
	return EX_OK;
}

int import_check_certificates(struct cli *cli, struct import_plan *plan, enum import_state *states)
{
	for (size_t i = 0; i < plan->certificate_count; i++) {
		const struct import_certificate *c = &plan->certificates[i];
		const struct mb_tls_certificate *kept = mb_context_certificate(cli->ctx, c->name);
		states[i] = IMPORT_NEW;
		if (kept != NULL) {
			states[i] = IMPORT_UNCHANGED;
			if ((strcmp(kept->cert_file, c->cert_file) != 0 || strcmp(kept->key_file, c->key_file) != 0) &&
			    problem(plan, &c->origin, "%s: tls.certificates names other files for it already (%s); not replaced",
				    c->name, kept->cert_file) < 0)
				return -1;
			continue;
		}
		if (access(c->cert_file, R_OK) < 0 &&
		    problem(plan, &c->origin, "%s: cannot read the certificate %s", c->name, c->cert_file) < 0)
			return -1;
		if (access(c->key_file, R_OK) < 0 &&
		    problem(plan, &c->origin, "%s: cannot read the key %s", c->name, c->key_file) < 0)
			return -1;
	}
	return 0;
}

/* context_with - the context file's text with the new certificates in */
static char *context_with(struct cli *cli, const char *path, const struct import_plan *plan,
			  const enum import_state *states)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_PRESERVE_ORDER, &jerr);

	if (root == NULL || !json_is_object(root)) {
		cli_fail(cli, EX_CONFIG, "%s: %s", path, root == NULL ? jerr.text : "not a JSON object");
		json_decref(root);
		return NULL;
	}
	json_t *tls = json_object_get(root, "tls");
	if (tls == NULL)
		json_object_set_new(root, "tls", tls = json_object());
	json_t *certs = json_object_get(tls, "certificates");
	if (certs == NULL)
		json_object_set_new(tls, "certificates", certs = json_object());
	for (size_t i = 0; i < plan->certificate_count; i++) {
		const struct import_certificate *c = &plan->certificates[i];
		if (states[i] == IMPORT_NEW)
			json_object_set_new(certs, c->name, json_pack("{s:s, s:s}", "cert", c->cert_file, "key", c->key_file));
	}
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		cli_fail(cli, EX_OSERR, "out of memory");
	return text;
}

int import_write_certificates(struct cli *cli, const struct import_plan *plan, const enum import_state *states,
			      struct import_tally *tally)
{
	char error[1024];
	size_t made = 0;

	for (size_t i = 0; i < plan->certificate_count; i++)
		made += states[i] == IMPORT_NEW;
	tally->unchanged += plan->certificate_count - made;
	if (made == 0)
		return EX_OK;
	const char *path = mb_context_path(cli->context_path);
	char *text = context_with(cli, path, plan, states);
	if (text == NULL)
		return EX_CONFIG;
	struct mb_context *check = NULL;
	struct stat st;
	int ret = EX_OK;
	if (mb_context_parse(path, text, strlen(text), &check, error, sizeof(error)) < 0)
		ret = cli_fail(cli, EX_DATAERR, "the certificates would make the context wrong: %s", error);
	bool changed = false;
	if (ret == EX_OK && stat(path, &st) == 0 &&
	    cli_write_file(cli, path, text, st.st_mode & 07777, &changed) < 0)
		ret = EX_CANTCREAT;
	free(text);
	if (ret != EX_OK) {
		mb_context_free(&check);
		return ret;
	}
	mb_context_free(&cli->ctx);
	cli->ctx = check;
	tally->made += made;
	printf("%s: %zu certificates added to tls.certificates\n", path, made);
	if (cli_tls_apply(cli, cli_tls_print_file, NULL) != EX_OK)
		printf("notice: 'mailbag tls apply' failed (its message is above): run it again once the certificates "
		       "are right, then reload Postfix and Dovecot\n");
	else
		printf("notice: reload Postfix and Dovecot for the certificates to be served\n");
	return EX_OK;
}
