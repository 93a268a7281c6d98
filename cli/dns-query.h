/* dns-query.h - DNS lookups for `dns check` and `dkim activate` (see dns-query.c). */
#ifndef MAILBAG_CLI_DNS_QUERY_H
#define MAILBAG_CLI_DNS_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* The system resolver (server NULL) or one server "IPv4[:PORT]". NULL
   with error when it cannot be set up. */
struct cli_dns;
struct cli_dns *cli_dns_open(const char *server, char *error, size_t error_size);
void cli_dns_close(struct cli_dns *dns);
struct cli_dns_answers {
	char **items;   /* zone-file text of each answer (see dns-query.c) */
	size_t count;
	size_t capacity; /* room in items (grow.h) */
};
enum { CLI_DNS_TYPE_TLSA = 52 };
/* Every answer of type (ns_t_*) for name: how many (0: no such name or
   no such record), or -1 when DNS did not say (error). Free answers. */
int cli_dns_lookup(struct cli_dns *dns, const char *name, int type,
		   struct cli_dns_answers *answers, char *error, size_t error_size);
void cli_dns_answers_free(struct cli_dns_answers *answers);
/* The answers of type in a DNS reply packet (what cli_dns_lookup does
   with what it receives): how many, or -1 when the packet is malformed. */
int cli_dns_parse_answer(const unsigned char *packet, int len, int type,
			 struct cli_dns_answers *answers);
/* Whether two TXT record texts are the same, spaces and tabs aside. */
bool cli_same_record(const char *a, const char *b);

#endif
