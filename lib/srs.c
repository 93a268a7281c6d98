/* srs.c - the Sender Rewriting Scheme of forwarded mail
 *
 * SUMMARY
 *	Mail forwarded to another domain leaves with an envelope sender in
 *	one of our domains, so the receiver's SPF check sees our address
 *	sending for our domain; a bounce to it comes back here and is sent
 *	on to the original sender. The addresses are those of libsrs2 and
 *	PostSRSd (the "guarded" scheme), so secrets of an installed PostSRSd
 *	can be kept and the addresses it gave out still verify:
 *
 *	  SRS0=HHHH=TT=orig-domain=orig-local@SRSDOMAIN
 *	  SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@SRSDOMAIN
 *
 *	HHHH: the first four characters of the (URL-safe, as PostSRSd 2.x)
 *	base64 of HMAC-SHA1(secret,
 *	the lower-cased fields after it, run together), as libsrs2 makes
 *	them. SHA-1 rather than SHA-256 for that compatibility: four base64
 *	characters (24 bits) are all an address keeps of the MAC, so the
 *	hash function is not what bounds its strength, and HMAC-SHA1 has no
 *	known weakness as a MAC. TT: the day (days since 1970, modulo 1024)
 *	in two base32 characters. An SRS1 address is what a second forwarder
 *	makes of an SRS0 one: it keeps the first one's address whole behind
 *	its own hash, so a bounce goes back through the first forwarder.
 *
 *	Mail systems fold the case of local parts (Postfix lower-cases map
 *	keys), so every comparison is case-insensitive: the hash's (as
 *	libsrs2's, which costs the hash some of its 24 bits), the stamp's,
 *	the tags' and the domain's. Hashes are compared in constant time.
 *
 * SECURITY
 *	A secret file is refused when others than root or the daemon could
 *	read or change it; no error message shows a secret.
 */
#include "srs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#define SRS_SEPARATOR '='
#define SRS_DAY (60 * 60 * 24)
#define SRS_STAMP_SLOTS 1024 /* two base32 characters */

static const char stamp_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/* PostSRSd 2.x's URL-safe base64: "+" would read as a recipient delimiter */
static const char hash_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* --- secrets ---------------------------------------------------------------- */

void mb_srs_secrets_clear(struct mb_srs_secrets *secrets)
{
	for (size_t i = 0; i < secrets->count; i++) {
		sodium_memzero(secrets->secret[i], secrets->len[i]);
		free(secrets->secret[i]);
		secrets->secret[i] = NULL;
	}
	secrets->count = 0;
}

/* add_secret - one line of the file as a secret; -1 with error */
static int add_secret(struct mb_srs_secrets *secrets, const char *line, size_t len, const char *path,
		      unsigned line_no, char *error, size_t error_size)
{
	if (len < MB_SRS_SECRET_MIN) {
		snprintf(error, error_size, "%s:%u: the secret is shorter than %d bytes; make a new one "
			 "with `mailbag srs rotate`", path, line_no, MB_SRS_SECRET_MIN);
		return -1;
	}
	if (len > MB_SRS_SECRET_MAX) {
		snprintf(error, error_size, "%s:%u: the secret is longer than %d bytes", path, line_no,
			 MB_SRS_SECRET_MAX);
		return -1;
	}
	if (secrets->count == MB_SRS_MAX_SECRETS) {
		snprintf(error, error_size, "%s:%u: more than %d secrets; remove the oldest (the last lines)",
			 path, line_no, MB_SRS_MAX_SECRETS);
		return -1;
	}
	char *copy = malloc(len + 1);
	if (copy == NULL) {
		snprintf(error, error_size, "%s: out of memory", path);
		return -1;
	}
	memcpy(copy, line, len);
	copy[len] = '\0';
	secrets->secret[secrets->count] = copy;
	secrets->len[secrets->count++] = len;
	return 0;
}

int mb_srs_secrets_parse(const char *text, size_t len, const char *path,
			 struct mb_srs_secrets *secrets_r, char *error, size_t error_size)
{
	unsigned line_no = 0;
	size_t pos = 0;

	secrets_r->count = 0;
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += line_len + (nl != NULL ? 1 : 0);
		line_no++;
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (line_len == 0)
			continue;
		if (memchr(line, '\0', line_len) != NULL) {
			snprintf(error, error_size, "%s:%u: a NUL byte in the secret", path, line_no);
			mb_srs_secrets_clear(secrets_r);
			return -1;
		}
		if (add_secret(secrets_r, line, line_len, path, line_no, error, error_size) < 0) {
			mb_srs_secrets_clear(secrets_r);
			return -1;
		}
	}
	if (secrets_r->count == 0) {
		snprintf(error, error_size, "%s: no secret in the file (one a line; `mailbag srs rotate` "
			 "makes one)", path);
		return -1;
	}
	return 0;
}

int mb_srs_secret_file_mode_ok(const struct stat *st, const char *path, uid_t daemon_uid,
			       gid_t daemon_gid, char *error, size_t error_size)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (!S_ISREG(st->st_mode)) {
		snprintf(error, error_size, "%s: not a regular file", path);
		return -1;
	}
	if (st->st_uid != 0 && st->st_uid != daemon_uid) {
		snprintf(error, error_size, "%s: owned by uid %u, neither root nor the daemon user; "
			 "chown root %s", path, (unsigned)st->st_uid, path);
		return -1;
	}
	if (mode == 0600 || mode == 0400)
		return 0;
	if ((mode == 0640 || mode == 0440) && st->st_gid == daemon_gid)
		return 0;
	snprintf(error, error_size, "%s: mode %04o lets others than root and the daemon read or change "
		 "the SRS secrets; make it 0600 (or 0640 with the daemon's group)", path, mode);
	return -1;
}

int mb_srs_secrets_load(const char *path, uid_t daemon_uid, gid_t daemon_gid,
			struct mb_srs_secrets *secrets_r, struct stat *st_r,
			char *error, size_t error_size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	secrets_r->count = 0;
	if (fd < 0) {
		snprintf(error, error_size, "cannot open %s: %s%s", path, strerror(errno),
			 errno == ENOENT ? " (`mailbag setup` or `mailbag srs rotate` makes it)" : "");
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(error, error_size, "cannot stat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (mb_srs_secret_file_mode_ok(&st, path, daemon_uid, daemon_gid, error, error_size) < 0) {
		close(fd);
		return -1;
	}
	if (st.st_size > MB_SRS_FILE_MAX) {
		snprintf(error, error_size, "%s: larger than %d bytes", path, MB_SRS_FILE_MAX);
		close(fd);
		return -1;
	}
	char *text = malloc((size_t)st.st_size + 1);
	ssize_t got = text != NULL ? read(fd, text, (size_t)st.st_size) : -1;
	int saved = errno;
	close(fd);
	if (got < 0) {
		snprintf(error, error_size, "cannot read %s: %s", path, strerror(saved));
		free(text);
		return -1;
	}
	int ret = mb_srs_secrets_parse(text, (size_t)got, path, secrets_r, error, error_size);
	sodium_memzero(text, (size_t)got);
	free(text);
	if (ret == 0 && st_r != NULL)
		*st_r = st;
	return ret;
}

char *mb_srs_secrets_rotated(const char *old_text, size_t old_len, size_t keep_old,
			     char *error, size_t error_size)
{
	unsigned char raw[24];
	char fresh[sodium_base64_ENCODED_LEN(sizeof(raw), sodium_base64_VARIANT_ORIGINAL)];

	if (sodium_init() < 0) {
		snprintf(error, error_size, "libsodium cannot start: no random bytes for a secret");
		return NULL;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(fresh, sizeof(fresh), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(raw, sizeof(raw));
	size_t fresh_len = strlen(fresh);
	char *out = malloc(fresh_len + 2 + old_len + 1);
	if (out == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	memcpy(out, fresh, fresh_len);
	sodium_memzero(fresh, sizeof(fresh));
	size_t used = fresh_len;
	out[used++] = '\n';
	size_t kept = 0, pos = 0;
	while (old_text != NULL && pos < old_len && kept < keep_old) {
		const char *line = old_text + pos;
		const char *nl = memchr(line, '\n', old_len - pos);
		size_t line_len = nl != NULL ? (size_t)(nl - line) : old_len - pos;
		pos += line_len + (nl != NULL ? 1 : 0);
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (line_len == 0)
			continue;
		memcpy(out + used, line, line_len);
		used += line_len;
		out[used++] = '\n';
		kept++;
	}
	out[used] = '\0';
	return out;
}

/* --- the hash and the stamp --------------------------------------------------- */

/* srs_hash - the HASH of fields under secret number index, as libsrs2:
   HMAC-SHA1 of the lower-cased fields run together, its first bits in
   MB_SRS_HASH_LEN base64 characters */
static void srs_hash(const struct mb_srs_secrets *secrets, size_t index, const char *const *fields,
		     size_t count, char out[MB_SRS_HASH_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char folded[MB_ADDRESS_MAX * 2 + 1];
	size_t used = 0;

	for (size_t i = 0; i < count; i++) {
		for (const char *p = fields[i]; *p != '\0' && used < sizeof(folded) - 1; p++)
			folded[used++] = (char)tolower((unsigned char)*p);
	}
	HMAC(EVP_sha1(), secrets->secret[index], (int)secrets->len[index],
	     (const unsigned char *)folded, used, mac, &mac_len);
	/* 4 characters take 24 bits: the first three bytes */
	unsigned long bits = ((unsigned long)mac[0] << 16) | ((unsigned long)mac[1] << 8) | mac[2];
	for (int i = 0; i < MB_SRS_HASH_LEN; i++)
		out[i] = hash_chars[(bits >> (18 - 6 * i)) & 0x3f];
	out[MB_SRS_HASH_LEN] = '\0';
	sodium_memzero(mac, sizeof(mac));
}

/* hash_fold - a hash character as compared: lower case, with libsrs2's
   '+' and '/' the same as the URL-safe '-' and '_' */
static unsigned char hash_fold(unsigned char c)
{
	if (c == '+')
		return '-';
	if (c == '/')
		return '_';
	return (unsigned char)tolower(c);
}

/* hash_matches - whether given (exactly MB_SRS_HASH_LEN characters) is
   the hash of fields under one of the secrets; each comparison takes the
   same time whatever the characters */
static bool hash_matches(const struct mb_srs *srs, const char *given, const char *const *fields,
			 size_t count)
{
	bool found = false;

	for (size_t s = 0; s < srs->secrets->count; s++) {
		char want[MB_SRS_HASH_LEN + 1];
		unsigned diff = 0;
		srs_hash(srs->secrets, s, fields, count, want);
		for (int i = 0; i < MB_SRS_HASH_LEN; i++)
			diff |= (unsigned)(hash_fold((unsigned char)given[i]) ^ hash_fold((unsigned char)want[i]));
		found |= diff == 0;
	}
	return found;
}

void mb_srs_timestamp(time_t now, char out[3])
{
	long day = (long)(now / SRS_DAY) % SRS_STAMP_SLOTS;

	out[0] = stamp_chars[(day >> 5) & 0x1f];
	out[1] = stamp_chars[day & 0x1f];
	out[2] = '\0';
}

/* stamp_fresh - whether a two-character stamp is of today or at most
   max_age days ago; one from the future counts as 1024 days old */
static bool stamp_fresh(const char *stamp, time_t now, int64_t max_age)
{
	long then = 0;

	for (int i = 0; i < 2; i++) {
		const char *at = stamp[i] != '\0' ? strchr(stamp_chars, toupper((unsigned char)stamp[i])) : NULL;
		if (at == NULL)
			return false;
		then = (then << 5) | (long)(at - stamp_chars);
	}
	long today = (long)(now / SRS_DAY) % SRS_STAMP_SLOTS;
	long age = (today - then + SRS_STAMP_SLOTS) % SRS_STAMP_SLOTS;
	return age <= max_age;
}

/* --- addresses ------------------------------------------------------------------ */

static bool is_separator(char c) { return c == '=' || c == '+' || c == '-'; }

/* srs_tag - 0 or 1 for a local part starting SRS0/SRS1 and a separator, else -1 */
static int srs_tag(const char *local)
{
	if (strncasecmp(local, "SRS", 3) != 0 || (local[3] != '0' && local[3] != '1') || !is_separator(local[4]))
		return -1;
	return local[3] - '0';
}

bool mb_srs_is_srs(const char *address)
{
	return srs_tag(address) >= 0;
}

/* split_address - local part and domain of address into local_r and
   domain_r (at the last "@"); false when there is none or it is too long */
static bool split_address(const char *address, char local_r[MB_ADDRESS_MAX + 1],
			  char domain_r[MB_DOMAIN_MAX + 1])
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at == address || at[1] == '\0' || (size_t)(at - address) > MB_ADDRESS_MAX ||
	    strlen(at + 1) > MB_DOMAIN_MAX)
		return false;
	memcpy(local_r, address, (size_t)(at - address));
	local_r[at - address] = '\0';
	strcpy(domain_r, at + 1);
	return true;
}

/* put - snprintf into out, -1 with *error_r when it does not fit */
static int put_checked(int written, size_t out_size, const char **error_r)
{
	if (written < 0 || (size_t)written >= out_size || written > MB_ADDRESS_MAX) {
		*error_r = "the SRS address would be longer than an address can be";
		return -1;
	}
	return 1;
}

int mb_srs_forward(const struct mb_srs *srs, const char *sender, time_t now,
		   char *out, size_t out_size, const char **error_r)
{
	char local[MB_ADDRESS_MAX + 1], domain[MB_DOMAIN_MAX + 1], hash[MB_SRS_HASH_LEN + 1];

	char checked[MB_DOMAIN_MAX + 1];
	const char *why;

	if (sender[0] == '\0' || !split_address(sender, local, domain))
		return 0;
	/* a sender domain that is no domain ("=x", "[192.0.2.1]") would make
	   an address that cannot be split again: it is sent on as it is */
	if (strcasecmp(domain, srs->domain) == 0 || mb_domain_parse(domain, checked, &why) < 0)
		return 0;
	int tag = srs_tag(local);
	if (tag == 1) {
		/* SRS1=HASH=host=rest: the first forwarder's host and rest kept, our hash */
		char *host = strchr(local + 5, SRS_SEPARATOR);
		char *rest = host != NULL ? strchr(host + 1, SRS_SEPARATOR) : NULL;
		if (host != NULL && rest != NULL && rest != host + 1 && rest[1] != '\0') {
			*rest++ = '\0';
			host++;
			const char *fields[] = { host, rest };
			srs_hash(srs->secrets, 0, fields, 2, hash);
			return put_checked(snprintf(out, out_size, "SRS1=%s=%s=%s@%s", hash, host, rest, srs->domain),
					   out_size, error_r);
		}
		/* a malformed SRS1 is signed as any other sender */
	} else if (tag == 0) {
		/* SRS0 of another forwarder: SRS1=HASH=its domain==its hash... */
		const char *rest = local + 4;
		const char *fields[] = { domain, rest };
		srs_hash(srs->secrets, 0, fields, 2, hash);
		return put_checked(snprintf(out, out_size, "SRS1=%s=%s=%s@%s", hash, domain, rest, srs->domain),
				   out_size, error_r);
	}
	char stamp[3];
	mb_srs_timestamp(now, stamp);
	const char *fields[] = { stamp, domain, local };
	srs_hash(srs->secrets, 0, fields, 3, hash);
	return put_checked(snprintf(out, out_size, "SRS0=%s=%s=%s=%s@%s", hash, stamp, domain, local, srs->domain),
			   out_size, error_r);
}

/* reverse_srs0 - "=HASH=TT=domain=local" (after the tag) to local@domain */
static int reverse_srs0(const struct mb_srs *srs, char *rest, time_t now, char *out, size_t out_size,
			const char **error_r)
{
	char *hash = rest + 1;
	char *stamp = strchr(hash, SRS_SEPARATOR);
	char *domain = stamp != NULL ? strchr(stamp + 1, SRS_SEPARATOR) : NULL;
	char *local = domain != NULL ? strchr(domain + 1, SRS_SEPARATOR) : NULL;

	if (local == NULL || local[1] == '\0' || domain == stamp + 1 || local == domain + 1) {
		*error_r = "malformed SRS0 address (SRS0=HASH=TT=domain=local wanted)";
		return -1;
	}
	*stamp++ = '\0';
	*domain++ = '\0';
	*local++ = '\0';
	if (strlen(hash) != MB_SRS_HASH_LEN || strlen(stamp) != 2) {
		*error_r = "malformed SRS0 address (its hash or day stamp has the wrong length)";
		return -1;
	}
	const char *fields[] = { stamp, domain, local };
	if (!hash_matches(srs, hash, fields, 3)) {
		*error_r = "SRS0 address with a bad hash (forged or altered)";
		return -1;
	}
	if (!stamp_fresh(stamp, now, srs->max_age_days)) {
		*error_r = "SRS0 address expired (its day stamp is older than srs.max_age or not a day)";
		return -1;
	}
	return put_checked(snprintf(out, out_size, "%s@%s", local, domain), out_size, error_r);
}

/* reverse_srs1 - "=HASH=host=rest" (after the tag) to SRS0rest@host */
static int reverse_srs1(const struct mb_srs *srs, char *rest, char *out, size_t out_size, const char **error_r)
{
	char *hash = rest + 1;
	char *host = strchr(hash, SRS_SEPARATOR);
	char *tail = host != NULL ? strchr(host + 1, SRS_SEPARATOR) : NULL;

	if (tail == NULL || tail[1] == '\0' || tail == host + 1) {
		*error_r = "malformed SRS1 address (SRS1=HASH=host=rest wanted)";
		return -1;
	}
	*host++ = '\0';
	*tail++ = '\0';
	if (strlen(hash) != MB_SRS_HASH_LEN) {
		*error_r = "malformed SRS1 address (its hash has the wrong length)";
		return -1;
	}
	const char *fields[] = { host, tail };
	if (!hash_matches(srs, hash, fields, 2)) {
		*error_r = "SRS1 address with a bad hash (forged or altered)";
		return -1;
	}
	return put_checked(snprintf(out, out_size, "SRS0%s@%s", tail, host), out_size, error_r);
}

int mb_srs_reverse(const struct mb_srs *srs, const char *address, time_t now,
		   char *out, size_t out_size, const char **error_r)
{
	char local[MB_ADDRESS_MAX + 1], domain[MB_DOMAIN_MAX + 1];

	if (!split_address(address, local, domain) || strcasecmp(domain, srs->domain) != 0)
		return 0;
	int tag = srs_tag(local);
	if (tag < 0)
		return 0;
	if (tag == 0)
		return reverse_srs0(srs, local + 4, now, out, out_size, error_r);
	return reverse_srs1(srs, local + 4, out, out_size, error_r);
}
