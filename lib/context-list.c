/* context-list.c - the context file's lists: rate limits, networks, domains, certificates
 *
 * SUMMARY
 *	Converts the list-valued keys (rate_limits, greylisting.allowlist,
 *	auto_create.domains, milter's network, domain and address lists,
 *	tls.certificates), each entry checked and the whole list refused
 *	for one bad entry, and answers the questions the daemons ask of
 *	them (is this address listed, which certificate serves this host
 *	name). The node maps are context-nodes.c's.
 *
 * DIAGNOSTICS
 *	"FILE: key 'rate_limits[0]': \"per\" must be one of minute, hour, day"
 */
#include "context-internal.h"
#include "address.h"
#include "network.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* lookup_word - the index of word in words (NULL-terminated), or -1 */
static int lookup_word(const char *const *words, const char *word)
{
	for (int i = 0; words[i] != NULL; i++) {
		if (strcmp(words[i], word) == 0)
			return i;
	}
	return -1;
}

static const char *const rate_subject_words[] = {
	"sasl_username", "sender_domain", "client_address", "client_network", "recipient", NULL
};
static const char *const rate_unit_words[] = { "messages", "recipients", NULL };
static const char *const rate_period_words[] = { "minute", "hour", "day", NULL };
static const int64_t rate_period_seconds[] = { 60, 3600, 86400 };

/* rate_word - one of words from obj[name], or -1 after failing */
static int rate_word(struct parse_state *st, const char *key, json_t *obj, const char *name,
		     const char *const *words, const char *allowed)
{
	json_t *value = json_object_get(obj, name);
	int index;

	if (value == NULL)
		return context_fail(st, key, "\"%s\" is missing; it is one of %s", name, allowed);
	index = json_is_string(value) ? lookup_word(words, json_string_value(value)) : -1;
	if (index < 0)
		return context_fail(st, key, "\"%s\" must be one of %s", name, allowed);
	return index;
}

static int parse_rate_limit(struct parse_state *st, const char *key, json_t *obj,
			    struct mb_rate_limit *limit)
{
	static const char *const members[] = { "name", "key", "count", "per", "limit", NULL };
	const char *member;
	json_t *value;
	int subject, unit, period;

	if (!json_is_object(obj))
		return context_fail(st, key, "expected an object with key, count, per and limit");
	json_object_foreach(obj, member, value) {
		if (lookup_word(members, member) < 0)
			return context_fail(st, key, "unknown member \"%.40s\"; allowed: name, key, count, per, limit", member);
	}
	if ((subject = rate_word(st, key, obj, "key", rate_subject_words,
				 "sasl_username, sender_domain, client_address, client_network, recipient")) < 0 ||
	    (unit = rate_word(st, key, obj, "count", rate_unit_words, "messages, recipients")) < 0 ||
	    (period = rate_word(st, key, obj, "per", rate_period_words, "minute, hour, day")) < 0)
		return -1;
	value = json_object_get(obj, "limit");
	if (!json_is_integer(value) || json_integer_value(value) < 1)
		return context_fail(st, key, "\"limit\" must be a number of at least 1");
	if (subject == MB_RATE_RECIPIENT && unit == MB_RATE_MESSAGES)
		return context_fail(st, key, "a limit per recipient counts recipients (a message has many)");
	limit->subject = (enum mb_rate_subject)subject;
	limit->unit = (enum mb_rate_unit)unit;
	limit->window_seconds = rate_period_seconds[period];
	limit->limit = (uint64_t)json_integer_value(value);
	value = json_object_get(obj, "name");
	if (value != NULL) {
		const char *name = json_is_string(value) ? json_string_value(value) : "";
		if (name[0] == '\0' || strlen(name) > MB_RATE_NAME_MAX ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(name))
			return context_fail(st, key, "\"name\" must be 1 to %d letters, digits, '_', '-' or '.'",
				    MB_RATE_NAME_MAX);
		snprintf(limit->name, sizeof(limit->name), "%s", name);
	} else {
		snprintf(limit->name, sizeof(limit->name), "%s-%s-per-%s",
			 rate_subject_words[subject], rate_unit_words[unit], rate_period_words[period]);
	}
	return 0;
}

int context_set_rate_limits(struct parse_state *st, const char *key, const struct field *f,
			   json_t *value, struct mb_rate_limits *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	char item_key[160];

	if (!json_is_array(value))
		return context_fail(st, key, "expected %s", f->help);
	if (count > MB_RATE_LIMITS_MAX)
		return context_fail(st, key, "at most %d rate limits", MB_RATE_LIMITS_MAX);
	struct mb_rate_limit *limits = calloc(count + 1, sizeof(*limits));
	if (limits == NULL)
		return context_fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		snprintf(item_key, sizeof(item_key), "%.120s[%zu]", key, i);
		if (parse_rate_limit(st, item_key, json_array_get(value, i), &limits[i]) < 0) {
			free(limits);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(limits[j].name, limits[i].name) == 0) {
				context_fail(st, item_key, "a second limit named \"%s\"; give each a different \"name\"",
				     limits[i].name);
				free(limits);
				return -1;
			}
		}
	}
	free(list->items);
	list->items = limits;
	list->count = count;
	return 0;
}

int context_set_allowlist(struct parse_state *st, const char *key, const struct field *f,
			 json_t *value, struct mb_allowlist *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;

	if (!json_is_array(value))
		return context_fail(st, key, "expected %s", f->help);
	if (count > MB_ALLOWLIST_MAX)
		return context_fail(st, key, "at most %d entries", MB_ALLOWLIST_MAX);
	struct mb_allow_entry *entries = calloc(count + 1, sizeof(*entries));
	if (entries == NULL)
		return context_fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		const char *text = json_is_string(item) ? json_string_value(item) : NULL;
		const char *net_error, *domain_error;
		if (text == NULL) {
			free(entries);
			return context_fail(st, key, "entry %zu is not a string", i);
		}
		if (mb_network_parse(text, &entries[i].network, &net_error) == 0) {
			entries[i].is_network = true;
		} else if (strpbrk(text, ":/") != NULL ||
			   strspn(text, "0123456789.") == strlen(text)) {
			free(entries);
			return context_fail(st, key, "entry \"%.60s\": %s", text, net_error);
		} else if (mb_domain_parse(text, entries[i].domain, &domain_error) < 0) {
			free(entries);
			return context_fail(st, key, "entry \"%.60s\" is neither a network nor a domain: %s",
				    text, domain_error);
		}
	}
	free(list->items);
	list->items = entries;
	list->count = count;
	return 0;
}

int context_set_domain_list(struct parse_state *st, const char *key, const struct field *f,
			   json_t *value, struct mb_domain_list *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	const char *error;

	if (!json_is_array(value) || count > 1000)
		return context_fail(st, key, "expected %s (at most 1000)", f->help);
	char (*domains)[MB_DOMAIN_MAX + 1] = calloc(count + 1, sizeof(*domains));
	if (domains == NULL)
		return context_fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		if (!json_is_string(item) || mb_domain_parse(json_string_value(item), domains[i], &error) < 0) {
			free(domains);
			return context_fail(st, key, "entry %zu is not a domain name", i);
		}
	}
	free(list->items);
	list->items = domains;
	list->count = count;
	return 0;
}

int context_set_network_list(struct parse_state *st, const char *key, const struct field *f,
			    json_t *value, struct mb_network_list *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	const char *error;

	if (!json_is_array(value) || count > MB_ALLOWLIST_MAX)
		return context_fail(st, key, "expected %s (at most %d)", f->help, MB_ALLOWLIST_MAX);
	struct mb_network *networks = calloc(count + 1, sizeof(*networks));
	if (networks == NULL)
		return context_fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		const char *text = json_is_string(item) ? json_string_value(item) : "";
		if (mb_network_parse(text, &networks[i], &error) < 0) {
			free(networks);
			return context_fail(st, key, "entry %zu (\"%.60s\"): %s", i, text, error);
		}
	}
	free(list->items);
	list->items = networks;
	list->count = count;
	return 0;
}

/* set_domain_patterns - "example.org" (that domain) or "*.example.org"
   (its subdomains and itself) */
int context_set_domain_patterns(struct parse_state *st, const char *key, const struct field *f,
			       json_t *value, struct mb_domain_patterns *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	const char *error;

	if (!json_is_array(value) || count > 1000)
		return context_fail(st, key, "expected %s (at most 1000)", f->help);
	struct mb_domain_pattern *patterns = calloc(count + 1, sizeof(*patterns));
	if (patterns == NULL)
		return context_fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		const char *text = json_is_string(item) ? json_string_value(item) : "";
		patterns[i].wildcard = strncmp(text, "*.", 2) == 0;
		if (mb_domain_parse(text + (patterns[i].wildcard ? 2 : 0), patterns[i].domain, &error) < 0) {
			free(patterns);
			return context_fail(st, key, "entry %zu (\"%.60s\"): %s", i, text, error);
		}
	}
	free(list->items);
	list->items = patterns;
	list->count = count;
	return 0;
}

int context_set_address_list(struct parse_state *st, const char *key, const struct field *f,
			    json_t *value, struct mb_address_list *list)
{
	size_t count = json_is_array(value) ? json_array_size(value) : 0;
	struct mb_address parsed;
	const char *error;

	if (!json_is_array(value) || count > 10000)
		return context_fail(st, key, "expected %s (at most 10000)", f->help);
	char (*addresses)[MB_ADDRESS_MAX + 1] = calloc(count + 1, sizeof(*addresses));
	if (addresses == NULL)
		return context_fail(st, key, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *item = json_array_get(value, i);
		const char *text = json_is_string(item) ? json_string_value(item) : "";
		if (text[0] == '@') {
			/* "@example.org": every address of that domain */
			char domain[MB_DOMAIN_MAX + 1];
			if (mb_domain_parse(text + 1, domain, &error) < 0) {
				free(addresses);
				return context_fail(st, key, "entry %zu (\"%.60s\"): %s", i, text, error);
			}
			snprintf(addresses[i], sizeof(addresses[i]), "@%s", domain);
			continue;
		}
		if (mb_address_parse(text, "", &parsed, &error) < 0) {
			free(addresses);
			return context_fail(st, key, "entry %zu (\"%.60s\"): %s", i, text, error);
		}
		mb_address_format(&parsed, addresses[i], sizeof(addresses[i]));
	}
	free(list->items);
	list->items = addresses;
	list->count = count;
	return 0;
}

bool mb_address_list_contains(const struct mb_address_list *list, const char *address)
{
	const char *at = strrchr(address, '@');

	for (size_t i = 0; i < list->count; i++) {
		if (list->items[i][0] == '@' ? at != NULL && strcasecmp(list->items[i], at) == 0 :
		    strcasecmp(list->items[i], address) == 0)
			return true;
	}
	return false;
}

bool mb_domain_patterns_match(const struct mb_domain_patterns *list, const char *domain)
{
	size_t len = strlen(domain);

	for (size_t i = 0; i < list->count; i++) {
		const struct mb_domain_pattern *p = &list->items[i];
		size_t plen = strlen(p->domain);
		if (strcasecmp(domain, p->domain) == 0)
			return true;
		if (p->wildcard && len > plen && domain[len - plen - 1] == '.' &&
		    strcasecmp(domain + len - plen, p->domain) == 0)
			return true;
	}
	return false;
}

static int certificate_path(struct parse_state *st, const char *key, const char *hostname,
			    json_t *entry, const char *name, char *buf, size_t size)
{
	json_t *value = json_object_get(entry, name);
	const char *text = json_is_string(value) ? json_string_value(value) : "";

	if (text[0] != '/' || strlen(text) >= size || strstr(text, "/../") != NULL ||
	    strlen(text) != json_string_length(value))
		return context_fail(st, key, "%s: \"%s\" must be an absolute path of at most %zu characters (got \"%.80s\")",
			    hostname, name, size - 1, text);
	memcpy(buf, text, strlen(text) + 1);
	return 0;
}

/* check_certificate - one entry of tls.certificates into c */
static int check_certificate(struct parse_state *st, const char *key, const char *hostname,
			     json_t *entry, struct mb_tls_certificate *c)
{
	const char *error, *name;
	json_t *item;

	if (mb_domain_parse(hostname, c->hostname, &error) < 0)
		return context_fail(st, key, "\"%.80s\" is not a host name: %s", hostname, error);
	if (!json_is_object(entry))
		return context_fail(st, key, "%s: expected {\"cert\": PATH, \"key\": PATH}", c->hostname);
	json_object_foreach(entry, name, item) {
		if (strcmp(name, "cert") != 0 && strcmp(name, "key") != 0)
			return context_fail(st, key, "%s: unknown key '%.40s'; allowed: cert, key", c->hostname, name);
	}
	if (certificate_path(st, key, c->hostname, entry, "cert", c->cert_file, sizeof(c->cert_file)) < 0 ||
	    certificate_path(st, key, c->hostname, entry, "key", c->key_file, sizeof(c->key_file)) < 0)
		return -1;
	return 0;
}

/* set_certificates - tls.certificates: host name -> {cert, key} */
int context_set_certificates(struct parse_state *st, const char *key, const struct field *f,
			    json_t *value, struct mb_tls_certificates *list)
{
	const char *hostname;
	json_t *entry;
	size_t count = 0;

	if (!json_is_object(value) || json_object_size(value) > MB_TLS_CERTIFICATES_MAX)
		return context_fail(st, key, "expected %s (at most %d)", f->help, MB_TLS_CERTIFICATES_MAX);
	struct mb_tls_certificate *certs = calloc(json_object_size(value) + 1, sizeof(*certs));
	if (certs == NULL)
		return context_fail(st, key, "out of memory");
	json_object_foreach(value, hostname, entry) {
		int ret = check_certificate(st, key, hostname, entry, &certs[count]);
		for (size_t i = 0; ret == 0 && i < count; i++) {
			if (strcmp(certs[i].hostname, certs[count].hostname) == 0)
				ret = context_fail(st, key, "%s is named twice", certs[i].hostname);
		}
		if (ret < 0) {
			free(certs);
			return -1;
		}
		count++;
	}
	free(list->items);
	list->items = certs;
	list->count = count;
	return 0;
}

const struct mb_tls_certificate *mb_context_certificate(const struct mb_context *ctx,
							const char *hostname)
{
	const struct mb_tls_certificates *certs = &ctx->tls.certificates;

	for (size_t i = 0; i < certs->count; i++) {
		if (strcasecmp(certs->items[i].hostname, hostname) == 0)
			return &certs->items[i];
	}
	return NULL;
}

