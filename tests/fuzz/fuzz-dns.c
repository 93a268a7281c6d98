/* fuzz-dns.c - libFuzzer harness for the DNS answer parser of `mailbag
 * dns check` and `mailbag dkim activate` (cli/dns-query.c)
 *
 * The first byte picks the record type asked for, the rest is the reply
 * packet. Every answer must be a string of its type's form: an A or AAAA
 * answer an address inet_pton takes back, MX and SRV leading digits.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns-query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int types[] = {
	ns_t_a, ns_t_aaaa, ns_t_txt, ns_t_mx, ns_t_ptr, ns_t_cname, ns_t_srv, CLI_DNS_TYPE_TLSA,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_dns_answers answers;
	unsigned char buf[16];

	if (size < 1 || size > 65536)
		return 0;
	int type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	int n = cli_dns_parse_answer(data + 1, (int)(size - 1), type, &answers);
	if (n < 0)
		return 0;
	if ((size_t)n != answers.count)
		abort();
	for (size_t i = 0; i < answers.count; i++) {
		const char *text = answers.items[i];
		if (text == NULL)
			abort();
		if (type == ns_t_a && inet_pton(AF_INET, text, buf) != 1)
			abort();
		if (type == ns_t_aaaa && inet_pton(AF_INET6, text, buf) != 1)
			abort();
		if ((type == ns_t_mx || type == ns_t_srv || type == CLI_DNS_TYPE_TLSA) &&
		    !isdigit((unsigned char)text[0]))
			abort();
	}
	cli_dns_answers_free(&answers);
	return 0;
}
