/* test-dns-tinydns.c - records as tinydns-data lines (cli/dns-tinydns.c):
 *	each type's line, the octal escapes, and values of the wrong form */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dns-tinydns.h"

struct line_case {
	const char *name, *type, *value;
	const char *want; /* the line, or NULL: refused */
};

static const struct line_case cases[] = {
	{ "example.org", "MX", "10 mx.example.org.", "@example.org::mx.example.org:10:3600\n" },
	{ "example.org.", "TXT", "v=spf1 mx -all", "'example.org:v=spf1 mx -all:3600\n" },
	{ "_dmarc.example.org", "TXT", "v=DMARC1; rua=mailto:a@example.org",
	  "'_dmarc.example.org:v=DMARC1; rua=mailto\\072a@example.org:3600\n" },
	{ "x.example.org", "TXT", "back\\slash\x01\x7f\xc3\xa9",
	  "'x.example.org:back\\134slash\\001\\177\\303\\251:3600\n" },
	{ "mta-sts.example.org", "CNAME", "mx.example.org.", "Cmta-sts.example.org:mx.example.org:3600\n" },
	{ "_imaps._tcp.example.org", "SRV", "0 1 993 mx.example.org.",
	  ":_imaps._tcp.example.org:33:\\000\\000\\000\\001\\003\\341\\002mx\\007example\\003org\\000:3600\n" },
	{ "_imap._tcp.example.org", "SRV", "0 0 0 .",
	  ":_imap._tcp.example.org:33:\\000\\000\\000\\000\\000\\000\\000:3600\n" },
	{ "_25._tcp.mx.example.org", "TLSA", "3 1 1 00ff41",
	  ":_25._tcp.mx.example.org:52:\\003\\001\\001\\000\\377A:3600\n" },
	{ "example.org", "MX", "ten mx.example.org.", NULL },
	{ "example.org", "MX", "70000 mx.example.org.", NULL },
	{ "x.example.org", "SRV", "0 1 993", NULL },
	{ "x.example.org", "SRV", "0 1 99999 mx.example.org.", NULL },
	{ "x.example.org", "SRV", "0 1 993 a..b.", NULL },
	{ "x.example.org", "TLSA", "3 1 1 abc", NULL },
	{ "x.example.org", "TLSA", "3 1 1 zz", NULL },
	{ "x.example.org", "A", "192.0.2.1", NULL },
	{ "x:y.example.org", "TXT", "v", NULL },
};

static void test_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct line_case *c = &cases[i];
		char *got = NULL;
		size_t size = 0;
		const char *why = NULL;
		FILE *out = open_memstream(&got, &size);
		int ret = dns_tinydns_line(out, c->name, c->type, c->value, DNS_TINYDNS_TTL, &why);
		fclose(out);
		if (c->want == NULL) {
			if (ret != -1 || why == NULL)
				fail_msg("case %zu (%s %s): want refused, got \"%s\"", i, c->type, c->value, got);
		} else if (ret != 0 || strcmp(got, c->want) != 0) {
			fail_msg("case %zu (%s %s): got %d \"%s\" (%s), want \"%s\"", i, c->type, c->value, ret, got,
				 why != NULL ? why : "", c->want);
		}
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
