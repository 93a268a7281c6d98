/* address.c - parse and normalise mail addresses
 *
 * SUMMARY
 *	The one place where mailbag decides what an address is. Everything
 *	that enters the store or is looked up in it passes through here, so
 *	the store only ever holds one spelling of an address: local part and
 *	domain folded to lower case (Postfix folds table keys the same way),
 *	the subaddress after a configured delimiter split off.
 *
 *	Deliberately narrower than RFC 5322: quoted local parts, comments,
 *	IP-literal domains and source routes are refused with a reason,
 *	because no mailbox we create needs them and each is a known source
 *	of ambiguity between Postfix, Dovecot and this code.
 *
 * DIAGNOSTICS
 *	Errors are static strings naming the rule that failed.
 */
#include "address.h"
#include "stringify.h"

#include <ctype.h>
#include <string.h>

/* RFC 5322 atext, without the dot, which has its own rules. */
static bool is_atext(unsigned char c)
{
	if (isalnum(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* mb_domain_parse - check one domain name and fold it to lower case */
int mb_domain_parse(const char *text, char domain_r[MB_DOMAIN_MAX + 1],
		    const char **error_r)
{
	size_t len = strlen(text);
	size_t label_len = 0;

	if (len == 0) {
		*error_r = "the domain is empty";
		return -1;
	}
	if (len > MB_DOMAIN_MAX) {
		*error_r = "the domain is longer than " MB_STRINGIFY(MB_DOMAIN_MAX) " characters";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '.') {
			if (label_len == 0) {
				*error_r = "the domain has an empty label (two dots, or a dot at the start)";
				return -1;
			}
			if (text[i - 1] == '-') {
				*error_r = "a domain label ends with '-'";
				return -1;
			}
			label_len = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (c == '-' && label_len == 0) {
				*error_r = "a domain label starts with '-'";
				return -1;
			}
			if (++label_len > MB_LABEL_MAX) {
				*error_r = "a domain label is longer than " MB_STRINGIFY(MB_LABEL_MAX) " characters";
				return -1;
			}
		} else {
			*error_r = "the domain may hold only letters, digits, '-', '_' and dots";
			return -1;
		}
		domain_r[i] = (char)tolower(c);
	}
	if (label_len == 0) {
		*error_r = "the domain ends with a dot";
		return -1;
	}
	if (text[len - 1] == '-') {
		*error_r = "a domain label ends with '-'";
		return -1;
	}
	if (strchr(text, '.') == NULL) {
		*error_r = "the domain has no dot (use a fully qualified name)";
		return -1;
	}
	domain_r[len] = '\0';
	return 0;
}

/* check_local - the dot-atom rules for a local part */
static int check_local(const char *local, size_t len, const char **error_r)
{
	if (len == 0) {
		*error_r = "the part before '@' is empty";
		return -1;
	}
	if (len > MB_LOCAL_MAX) {
		*error_r = "the part before '@' is longer than " MB_STRINGIFY(MB_LOCAL_MAX) " characters";
		return -1;
	}
	if (local[0] == '.' || local[len - 1] == '.') {
		*error_r = "the part before '@' starts or ends with a dot";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)local[i];

		if (c == '.') {
			if (local[i + 1] == '.') {
				*error_r = "the part before '@' has two dots in a row";
				return -1;
			}
		} else if (c == '"') {
			*error_r = "quoted local parts are not supported";
			return -1;
		} else if (!is_atext(c)) {
			*error_r = "the part before '@' has a character that is not allowed (space, control, non-ASCII or one of ()<>[]:;@\\,)";
			return -1;
		}
	}
	return 0;
}

/* mb_address_parse - split, check and normalise local@domain */
int mb_address_parse(const char *text, const char *delimiters,
		     struct mb_address *addr_r, const char **error_r)
{
	const char *at = strrchr(text, '@');
	size_t local_len, detail_at;

	memset(addr_r, 0, sizeof(*addr_r));
	if (at == NULL) {
		*error_r = "an address needs an '@' (user@example.org)";
		return -1;
	}
	if (at != strchr(text, '@')) {
		*error_r = "an address has exactly one '@'";
		return -1;
	}
	local_len = (size_t)(at - text);
	if (check_local(text, local_len, error_r) < 0)
		return -1;
	if (mb_domain_parse(at + 1, addr_r->domain, error_r) < 0)
		return -1;

	detail_at = local_len;
	if (delimiters != NULL && delimiters[0] != '\0') {
		for (size_t i = 0; i < local_len; i++) {
			if (strchr(delimiters, text[i]) != NULL) {
				detail_at = i;
				break;
			}
		}
	}
	if (detail_at == 0) {
		*error_r = "the address starts with the subaddress delimiter";
		return -1;
	}
	if (detail_at < local_len && text[detail_at - 1] == '.') {
		/* "a.+tag" would leave "a." as the mailbox: not an address */
		*error_r = "the part before the subaddress delimiter ends with a dot";
		return -1;
	}
	for (size_t i = 0; i < detail_at; i++)
		addr_r->local[i] = (char)tolower((unsigned char)text[i]);
	addr_r->local[detail_at] = '\0';
	if (detail_at < local_len) {
		addr_r->has_detail = true;
		memcpy(addr_r->detail, text + detail_at + 1,
		       local_len - detail_at - 1);
		addr_r->detail[local_len - detail_at - 1] = '\0';
	}
	return 0;
}

void mb_address_format(const struct mb_address *addr, char *buf, size_t size)
{
	/* both parts are bounded, so this never truncates with
	   size >= MB_ADDRESS_MAX + 1 */
	size_t local_len = strlen(addr->local);
	size_t domain_len = strlen(addr->domain);

	if (size < local_len + domain_len + 2) {
		if (size > 0)
			buf[0] = '\0';
		return;
	}
	memcpy(buf, addr->local, local_len);
	buf[local_len] = '@';
	memcpy(buf + local_len + 1, addr->domain, domain_len + 1);
}

void mb_lower_copy(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < size; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + ('a' - 'A') : in[i]);
	out[i] = '\0';
}

bool mb_address_base(const char *address, const char *delimiters,
		     char base_r[MB_ADDRESS_MAX + 1])
{
	struct mb_address addr;
	const char *error;

	if (delimiters == NULL || delimiters[0] == '\0' ||
	    mb_address_parse(address, delimiters, &addr, &error) < 0 || !addr.has_detail)
		return false;
	mb_address_format(&addr, base_r, MB_ADDRESS_MAX + 1);
	return true;
}
