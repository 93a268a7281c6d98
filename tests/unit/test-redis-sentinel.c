/* test-redis-sentinel.c - Sentinel locations, the replies of Sentinel and
   ROLE, error kinds, and the asking of sentinels in turn, table-driven */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redis-location.h"
#include "redis-sentinel.h"

struct location_case {
	const char *text;
	const char *want_error; /* NULL: must parse */
};

static const struct location_case location_cases[] = {
	{ "sentinel://10.0.0.1,10.0.0.2:26380,[::1]/mymaster", NULL },
	{ "sentinel://:pw@s1:1,s2:2,s3:3/mymaster/2", NULL },
	{ "sentinel://app:pw@s1/mymaster?sentinel_password=sp", NULL },
	{ "sentinel://s1/m?sentinel_password=sp&sentinel_user=su", NULL },
	{ "sentinel://s1/my.master-1_x", NULL },
	{ "sentinel://s1", "the master's name is missing" },
	{ "sentinel:///m", "a sentinel is HOST[:PORT]" },
	{ "sentinel://s1,,s2/m", "a sentinel is HOST[:PORT]" },
	{ "sentinel://s1,/m", "a sentinel is HOST[:PORT]" },
	{ "sentinel://s1:0/m", "the port is a number from 1 to 65535" },
	{ "sentinel://s1:x/m", "the port is a number from 1 to 65535" },
	{ "sentinel://s_1/m", "the host is a name or an address" },
	{ "sentinel://[::1/m", "an IPv6 host is written [ADDRESS]" },
	{ "sentinel://s1/", "the master's name is 1 to 63" },
	{ "sentinel://s1/m!", "the master's name is 1 to 63" },
	{ "sentinel://s1/m/256", "a number from 0 to 255" },
	{ "sentinel://s1/m/1/2", "a number from 0 to 255" },
	{ "sentinel://s1/m?db=1", "only sentinel_password=P and sentinel_user=U" },
	{ "sentinel://s1/m?sentinel_user=u", "sentinel_user needs a sentinel_password" },
	{ "sentinel://s1/m?sentinel_password=", "only sentinel_password=P" },
	{ "sentinel://pw@s1/m", "[USER]:PASSWORD" },
	{ "sentinel://:@s1/m", "bad user or password" },
	{ "sentinel://a,b,c,d,e,f,g,h,i/m", "at most 8 sentinels" },
	{ "sentinel:/s1/m", "a Redis store is" },
};

static void test_location_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(location_cases) / sizeof(location_cases[0]); i++) {
		const struct location_case *c = &location_cases[i];
		struct mb_redis_location loc;
		const char *error = NULL;
		int ret = mb_redis_location_parse(c->text, &loc, &error);
		if (c->want_error == NULL && ret != 0)
			fail_msg("%s: got error \"%s\", want success", c->text, error);
		if (c->want_error != NULL && (ret == 0 || strstr(error, c->want_error) == NULL))
			fail_msg("%s: got %s \"%s\", want error containing \"%s\"", c->text,
				 ret == 0 ? "success" : "error", ret == 0 ? "" : error, c->want_error);
	}
}

static void test_location_fields(void **state)
{
	struct mb_redis_location loc;
	const char *error = NULL;

	(void)state;
	assert_int_equal(mb_redis_location_parse(
		"sentinel://app:data-pw@10.0.0.1,10.0.0.2:26380,[::1]:7/mymaster/3?sentinel_password=sp&sentinel_user=su",
		&loc, &error), 0);
	assert_int_equal(loc.sentinel_count, 3);
	assert_string_equal(loc.sentinels[0].host, "10.0.0.1");
	assert_int_equal(loc.sentinels[0].port, MB_REDIS_SENTINEL_PORT);
	assert_string_equal(loc.sentinels[1].host, "10.0.0.2");
	assert_int_equal(loc.sentinels[1].port, 26380);
	assert_string_equal(loc.sentinels[2].host, "::1");
	assert_int_equal(loc.sentinels[2].port, 7);
	assert_string_equal(loc.master_name, "mymaster");
	assert_int_equal(loc.db, 3);
	assert_string_equal(loc.user, "app");
	assert_string_equal(loc.password, "data-pw");
	assert_string_equal(loc.sentinel_user, "su");
	assert_string_equal(loc.sentinel_password, "sp");
	assert_string_equal(loc.host, "");
	assert_true(mb_redis_location_is("sentinel://s/m"));
	/* the other kinds know nothing of sentinels */
	assert_int_equal(mb_redis_location_parse("redis://h:1/2", &loc, &error), 0);
	assert_int_equal(loc.sentinel_count, 0);
	assert_string_equal(loc.master_name, "");
}

static void test_redact(void **state)
{
	static const char *const cases[][2] = {
		{ "sentinel://:pw@s1,s2/m/1", "sentinel://:***@s1,s2/m/1" },
		{ "sentinel://u:pw@s1/m?sentinel_password=sp&sentinel_user=su",
		  "sentinel://u:***@s1/m?sentinel_password=***&sentinel_user=su" },
		{ "sentinel://s1:1,s2:2/m?sentinel_user=su&sentinel_password=sp",
		  "sentinel://s1:1,s2:2/m?sentinel_user=su&sentinel_password=***" },
		{ "sentinel://s1:1,s2:2/m", "sentinel://s1:1,s2:2/m" },
		/* odd ones hide too much, never too little */
		{ "sentinel://s:1/m?sentinel_password=a@b&sentinel_password=c", "sentinel://s:1/m?sentinel_password=***&sentinel_password=***" },
		{ "sentinel://:pa?ss@h/m", "sentinel://:pa?***" },
		{ "redis://:p?w@h", "redis://:***@h" },
	};
	char out[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mb_store_location_redact(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
	/* a short buffer truncates, never overflows */
	mb_store_location_redact("sentinel://u:pw@s1/m?sentinel_password=sp", out, 8);
	assert_string_equal(out, "sentine");
}

static void test_error_kinds(void **state)
{
	static const struct {
		const char *text;
		enum mb_redis_error_kind want;
	} cases[] = {
		{ "READONLY You can't write against a read only replica.", MB_REDIS_ERROR_FAILOVER },
		{ "LOADING Redis is loading the dataset in memory", MB_REDIS_ERROR_FAILOVER },
		{ "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", MB_REDIS_ERROR_FAILOVER },
		{ "NOREPLICAS Not enough good replicas to write.", MB_REDIS_ERROR_FAILOVER },
		{ "TRYAGAIN", MB_REDIS_ERROR_FAILOVER },
		{ "WRONGTYPE Operation against a key holding the wrong kind of value", MB_REDIS_ERROR_COMMAND },
		{ "EXECABORT Transaction discarded because of previous errors.", MB_REDIS_ERROR_COMMAND },
		{ "READONLYX", MB_REDIS_ERROR_COMMAND },
		{ "ERR unknown command", MB_REDIS_ERROR_COMMAND },
		{ "", MB_REDIS_ERROR_COMMAND },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (mb_redis_error_kind(cases[i].text) != cases[i].want)
			fail_msg("\"%s\": got kind %d, want %d", cases[i].text,
				 mb_redis_error_kind(cases[i].text), cases[i].want);
	}
}

static redisReply string_reply(const char *s)
{
	redisReply r = { .type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s) };

	return r;
}

static void test_parse_master_reply(void **state)
{
	struct mb_redis_endpoint master;
	struct mb_error_text error;
	redisReply host = string_reply("127.0.0.1"), port = string_reply("6380");
	redisReply bad_port = string_reply("65536"), empty = string_reply("");
	redisReply *good_elements[] = { &host, &port };
	redisReply *bad_port_elements[] = { &host, &bad_port };
	redisReply *empty_elements[] = { &empty, &port };
	redisReply good = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = good_elements };
	redisReply one = { .type = REDIS_REPLY_ARRAY, .elements = 1, .element = good_elements };
	redisReply wrong_port = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = bad_port_elements };
	redisReply no_host = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = empty_elements };
	redisReply nil = { .type = REDIS_REPLY_NIL };
	redisReply err = { .type = REDIS_REPLY_ERROR, .str = "NOAUTH Authentication required.", .len = 31 };

	(void)state;
	assert_int_equal(mb_redis_sentinel_parse_master(&good, "m", &master, &error), 1);
	assert_string_equal(master.host, "127.0.0.1");
	assert_int_equal(master.port, 6380);
	assert_int_equal(mb_redis_sentinel_parse_master(&nil, "m", &master, &error), 0);
	assert_int_equal(mb_redis_sentinel_parse_master(&one, "m", &master, &error), -1);
	assert_non_null(strstr(error.text, "not [address, port]"));
	assert_int_equal(mb_redis_sentinel_parse_master(&wrong_port, "m", &master, &error), -1);
	assert_non_null(strstr(error.text, "master m"));
	assert_int_equal(mb_redis_sentinel_parse_master(&no_host, "m", &master, &error), -1);
	assert_int_equal(mb_redis_sentinel_parse_master(&err, "m", &master, &error), -1);
	assert_non_null(strstr(error.text, "NOAUTH"));
}

static void test_parse_role(void **state)
{
	struct mb_error_text error;
	redisReply master = string_reply("master"), slave = string_reply("slave");
	redisReply *master_elements[] = { &master }, *slave_elements[] = { &slave };
	redisReply is_master = { .type = REDIS_REPLY_ARRAY, .elements = 1, .element = master_elements };
	redisReply is_slave = { .type = REDIS_REPLY_ARRAY, .elements = 1, .element = slave_elements };
	redisReply empty = { .type = REDIS_REPLY_ARRAY, .elements = 0 };

	(void)state;
	assert_int_equal(mb_redis_role_parse(&is_master, &error), 1);
	assert_int_equal(mb_redis_role_parse(&is_slave, &error), 0);
	assert_non_null(strstr(error.text, "slave, not the master"));
	assert_int_equal(mb_redis_role_parse(&empty, &error), -1);
	assert_int_equal(mb_redis_role_parse(&master, &error), -1);
}

static void test_turns_and_rate_limit(void **state)
{
	struct mb_redis_location loc;
	const char *parse_error;

	(void)state;
	assert_int_equal(mb_redis_location_parse("sentinel://:pw@a,b,c/m", &loc, &parse_error), 0);
	struct mb_redis_sentinel *s = mb_redis_sentinel_new(&loc);
	assert_non_null(s);
	assert_true(mb_redis_sentinel_may_ask(s, 0));
	assert_string_equal(mb_redis_sentinel_next(s)->host, "a");
	assert_false(mb_redis_sentinel_failed(s, 100));
	assert_string_equal(mb_redis_sentinel_next(s)->host, "b");
	mb_redis_sentinel_answered(s);
	/* the one that answered is asked first next time */
	assert_string_equal(mb_redis_sentinel_next(s)->host, "b");
	mb_redis_sentinel_stale(s);
	assert_string_equal(mb_redis_sentinel_next(s)->host, "c");
	assert_false(mb_redis_sentinel_failed(s, 200));
	assert_false(mb_redis_sentinel_failed(s, 300));
	/* the third failure of the round: not asked again for a while */
	assert_true(mb_redis_sentinel_failed(s, 400));
	assert_false(mb_redis_sentinel_may_ask(s, 400 + MB_SENTINEL_RETRY_MS - 1));
	assert_true(mb_redis_sentinel_may_ask(s, 400 + MB_SENTINEL_RETRY_MS));
	mb_redis_sentinel_free(&s);
	assert_null(s);
}

/* closed_port - a loopback port nobody listens on */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void test_discover_with_no_sentinel_up(void **state)
{
	char text[200];
	struct mb_redis_location loc;
	struct mb_redis_endpoint master;
	struct mb_error_text error;
	const char *parse_error;

	(void)state;
	snprintf(text, sizeof(text), "sentinel://:data-pw@127.0.0.1:%d,127.0.0.1:%d/mymaster?sentinel_password=s-pw",
		 closed_port(), closed_port());
	assert_int_equal(mb_redis_location_parse(text, &loc, &parse_error), 0);
	struct mb_redis_sentinel *s = mb_redis_sentinel_new(&loc);
	int64_t start = mb_redis_now_ms();
	assert_int_equal(mb_redis_sentinel_discover(s, &master, &error), -1);
	assert_non_null(strstr(error.text, "no sentinel gave the address of master mymaster"));
	assert_non_null(strstr(error.text, "cannot connect"));
	assert_null(strstr(error.text, "pw"));
	/* asked again at once: refused without a connection attempt */
	assert_int_equal(mb_redis_sentinel_discover(s, &master, &error), -1);
	assert_non_null(strstr(error.text, "asked again within"));
	assert_true(mb_redis_now_ms() - start < MB_SENTINEL_RETRY_MS);
	mb_redis_sentinel_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_location_table),
		cmocka_unit_test(test_location_fields),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_error_kinds),
		cmocka_unit_test(test_parse_master_reply),
		cmocka_unit_test(test_parse_role),
		cmocka_unit_test(test_turns_and_rate_limit),
		cmocka_unit_test(test_discover_with_no_sentinel_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
