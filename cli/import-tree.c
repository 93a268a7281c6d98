/* import-tree.c - reading another set-up's files, for the import readers
 *
 * SUMMARY
 *	What every reader of a foreign tree (import-exim-mibe.c,
 *	import-postfix-dovecot.c) needs: a file read line by line with a
 *	bound on the line, where a bad line becomes a problem of the plan
 *	named FILE:LINE and the rest is still read (so one run reports every
 *	refused line); a directory's names in a stable order; whether a
 *	path is a Maildir; whether a PEM key (and its certificate) can be
 *	loaded, checked with OpenSSL.
 *
 *	Nothing here writes: the readers fill a plan and never touch the
 *	store or the tree.
 */
#include "import-tree.h"
#include "store.h"
#include "stringify.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool import_tree_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);
	return n >= 0 && (size_t)n < size;
}

bool import_tree_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool import_tree_is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool import_tree_is_maildir(const char *path)
{
	char sub[4096];

	if (!import_tree_is_dir(path))
		return false;
	return import_tree_join(sub, sizeof(sub), path, "cur") && import_tree_is_dir(sub) &&
	       import_tree_join(sub, sizeof(sub), path, "new") && import_tree_is_dir(sub);
}

char *import_tree_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

/* check_line - what is wrong with a line as bytes, or NULL */
static const char *check_line(const char *line, size_t len)
{
	if (len > IMPORT_TREE_LINE_MAX)
		return "the line is longer than " MB_STRINGIFY(IMPORT_TREE_LINE_MAX) " bytes";
	if (memchr(line, '\0', len) != NULL)
		return "the line holds a NUL byte";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t' && !(c == '\r' && i == len - 1)) || c == 0x7f)
			return "the line holds a control character";
	}
	return NULL;
}

static bool blank_or_comment(const char *line)
{
	while (*line == ' ' || *line == '\t' || *line == '\r')
		line++;
	return *line == '\0' || *line == '#';
}

int import_tree_each_line(struct import_plan *plan, const char *file,
			  import_tree_line_fn *fn, void *context)
{
	FILE *f = fopen(file, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		return import_plan_problem(plan, file, 0, "cannot read it: %s", strerror(errno)) < 0 ? -1 : 1;
	}
	char *line = NULL;
	size_t capacity = 0, number = 0;
	ssize_t len;
	int ret = 1;
	while ((len = getline(&line, &capacity, f)) >= 0) {
		if (++number > IMPORT_FILE_LINES_MAX) {
			if (import_plan_problem(plan, file, number, "the file has more than %d lines",
						IMPORT_FILE_LINES_MAX) < 0)
				ret = -1;
			break;
		}
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		const char *why = check_line(line, (size_t)len);
		if (why != NULL) {
			if (import_plan_problem(plan, file, number, "%s", why) < 0) {
				ret = -1;
				break;
			}
			continue;
		}
		if (blank_or_comment(line))
			continue;
		if (fn(file, number, line, context) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 1 && ferror(f) &&
	    import_plan_problem(plan, file, number, "reading it failed: %s", strerror(errno)) < 0)
		ret = -1;
	free(line);
	fclose(f);
	return ret;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void import_tree_names_free(char **names, size_t count)
{
	for (size_t i = 0; names != NULL && i < count; i++)
		free(names[i]);
	free(names);
}

int import_tree_names(struct import_plan *plan, const char *dir, char ***names_r, size_t *count_r)
{
	*names_r = NULL;
	*count_r = 0;
	DIR *d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		return import_plan_problem(plan, dir, 0, "cannot list it: %s", strerror(errno)) < 0 ? -1 : 1;
	}
	char **names = NULL;
	size_t count = 0, capacity = 0;
	struct dirent *e;
	int ret = 1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (count == IMPORT_DIR_ENTRIES_MAX) {
			if (import_plan_problem(plan, dir, 0, "more than %d entries", IMPORT_DIR_ENTRIES_MAX) < 0)
				ret = -1;
			break;
		}
		if (count == capacity) {
			size_t grown = capacity == 0 ? 16 : capacity * 2;
			char **more = realloc(names, grown * sizeof(*names));
			if (more == NULL) {
				ret = -1;
				break;
			}
			names = more;
			capacity = grown;
		}
		if ((names[count] = strdup(e->d_name)) == NULL) {
			ret = -1;
			break;
		}
		count++;
	}
	closedir(d);
	if (ret < 0) {
		import_tree_names_free(names, count);
		return -1;
	}
	if (count > 0)
		qsort(names, count, sizeof(*names), compare_names);
	*names_r = names;
	*count_r = count;
	return 1;
}

/* openssl_reason - the last OpenSSL error as text, for a message */
static const char *openssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	return reason != NULL ? reason : "not PEM";
}

int import_tree_check_key(const char *key_file, const char *cert_file, char *error, size_t size)
{
	FILE *f = fopen(key_file, "r");
	if (f == NULL) {
		snprintf(error, size, "cannot read the private key: %s", strerror(errno));
		return -1;
	}
	ERR_clear_error();
	EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL) {
		snprintf(error, size, "no PEM private key in it (%s)", openssl_reason());
		return -1;
	}
	int ret = 0;
	if (cert_file != NULL) {
		X509 *cert = NULL;
		if ((f = fopen(cert_file, "r")) == NULL) {
			snprintf(error, size, "cannot read the certificate %s: %s", cert_file, strerror(errno));
			ret = -1;
		} else {
			cert = PEM_read_X509(f, NULL, NULL, NULL);
			fclose(f);
			if (cert == NULL) {
				snprintf(error, size, "no PEM certificate in %s (%s)", cert_file, openssl_reason());
				ret = -1;
			} else if (X509_check_private_key(cert, key) != 1) {
				snprintf(error, size, "the key does not belong to the certificate %s", cert_file);
				ret = -1;
			}
		}
		X509_free(cert);
	}
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ret;
}

/* Dovecot password schemes mailbag does not keep (lib/password.c keeps
   the slow ones only): a user with one of these imports with no password
   and the reason, so the rest of the import goes on. */
static const char *const dovecot_other_schemes[] = {
	"SSHA256", "SSHA512", "SSHA", "SHA256", "SHA512", "SHA", "SHA1", "SMD5", "MD5",
	"MD5-CRYPT", "PLAIN-MD5", "LDAP-MD5", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1",
	"SCRAM-SHA-256", "PBKDF2", "CRYPT", "DES-CRYPT", "NTLM", "LANMAN", "OTP", "SKEY", "RPA",
	"SHA256.HEX", "SHA512.HEX", "SSHA256.HEX", "SSHA512.HEX", "SHA1.HEX",
};

/* other_scheme - the scheme of hash when Dovecot knows it and mailbag
   does not keep it ("$1$" is MD5-CRYPT), else NULL */
static const char *other_scheme(const char *hash, size_t len, char *scheme, size_t size)
{
	if (len >= 3 && strncmp(hash, "$1$", 3) == 0)
		return "MD5-CRYPT";
	if (len < 3 || hash[0] != '{')
		return NULL;
	const char *close = memchr(hash, '}', len);
	if (close == NULL || (size_t)(close - hash - 1) >= size)
		return NULL;
	size_t n = (size_t)(close - hash - 1);
	for (size_t i = 0; i < n; i++)
		scheme[i] = (char)(hash[1 + i] >= 'a' && hash[1 + i] <= 'z' ? hash[1 + i] - 32 : hash[1 + i]);
	scheme[n] = '\0';
	for (size_t i = 0; i < sizeof(dovecot_other_schemes) / sizeof(dovecot_other_schemes[0]); i++) {
		if (strcmp(scheme, dovecot_other_schemes[i]) == 0)
			return scheme;
	}
	return NULL;
}

/* a hash mailbag accepts, put in place of one it does not keep so that
   the line's other fields are still parsed (never stored) */
#define STAND_IN_HASH "{SHA512-CRYPT}$6$standin$" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

int import_tree_passwd_line(struct import_plan *plan, const char *file, size_t number,
			    const char *line, const char *default_domain,
			    struct import_passwd_user *user_r)
{
	char copy[IMPORT_TREE_LINE_MAX + sizeof(STAND_IN_HASH) + 1], scheme[32];
	const char *why;
	size_t len = strlen(line);

	user_r->reset[0] = '\0';
	int r = mb_passwd_line_parse(line, len, default_domain, &user_r->entry, &why);
	if (r >= 0)
		return r;
	/* refused for its scheme alone: one Dovecot knows makes a user that
	   needs a new password, the line's other fields still checked */
	const char *colon = strchr(line, ':');
	if (strncmp(why, "unsupported hash scheme", 23) == 0 && colon != NULL && len <= IMPORT_TREE_LINE_MAX) {
		const char *hash = colon + 1, *end = strchr(hash, ':');
		size_t hash_len = end != NULL ? (size_t)(end - hash) : strlen(hash);
		const char *other = other_scheme(hash, hash_len, scheme, sizeof(scheme));
		if (other != NULL) {
			snprintf(copy, sizeof(copy), "%.*s%s%s", (int)(hash - line), line, STAND_IN_HASH,
				 end != NULL ? end : "");
			r = mb_passwd_line_parse(copy, strlen(copy), default_domain, &user_r->entry, &why);
			if (r > 0) {
				user_r->entry.hash[0] = '\0';
				snprintf(user_r->reset, sizeof(user_r->reset),
					 "the password hash is {%s}, a scheme mailbag does not keep; "
					 "set a new password with `mailbag user passwd`", other);
				return r;
			}
		}
	}
	return import_plan_problem(plan, file, number, "%s", why) < 0 ? -2 : -1;
}

uint64_t import_tree_quota(uint64_t passwd_quota)
{
	return passwd_quota == MB_LIMIT_DEFAULT ? 0 : passwd_quota;
}
