/* test-store.c - the store API on its LMDB backend */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include "store-fixture.h"

static void test_domains(void **state)
{
	struct store_fixture *f = *state;
	char error[512];

	assert_int_equal(mb_store_domain_exists(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), -EEXIST);
	assert_non_null(strstr(error, "already exists"));
	assert_int_equal(mb_store_domain_exists(f->store, "example.org", error, sizeof(error)), 1);
	assert_int_equal(mb_store_domain_del(f->store, "nope.example", false, error, sizeof(error)), -ENOENT);
}

static void test_users(void **state)
{
	struct store_fixture *f = *state;
	struct mb_user user = { .quota_bytes = 5, .enabled = true };
	struct mb_user got;
	char error[512];

	snprintf(user.address, sizeof(user.address), "ann@example.org");
	user.password_hash = (char *)"{ARGON2ID}$argon2id$v=19$xyz";
	user.home = (char *)"/var/vmail/example.org/ann";
	assert_int_equal(mb_store_user_add(f->store, &user, error, sizeof(error)), -ENOENT);
	assert_non_null(strstr(error, "not served"));
	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_user_add(f->store, &user, error, sizeof(error)), 0);
	assert_int_equal(mb_store_user_add(f->store, &user, error, sizeof(error)), -EEXIST);

	assert_int_equal(mb_store_user_get(f->store, "ann@example.org", &got, error, sizeof(error)), 1);
	assert_string_equal(got.password_hash, user.password_hash);
	assert_string_equal(got.home, user.home);
	assert_int_equal(got.quota_bytes, 5);
	assert_true(got.enabled);
	got.enabled = false;
	assert_int_equal(mb_store_user_update(f->store, &got, error, sizeof(error)), 0);
	mb_user_clear(&got);
	assert_int_equal(mb_store_user_get(f->store, "ann@example.org", &got, error, sizeof(error)), 1);
	assert_false(got.enabled);
	mb_user_clear(&got);

	assert_int_equal(mb_store_user_get(f->store, "bob@example.org", &got, error, sizeof(error)), 0);
	assert_int_equal(mb_store_user_get(f->store, "not an address", &got, error, sizeof(error)), 0);
	assert_int_equal(mb_store_user_del(f->store, "ann@example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_user_del(f->store, "ann@example.org", error, sizeof(error)), -ENOENT);
}

static void test_aliases(void **state)
{
	struct store_fixture *f = *state;
	const char *first[] = { "a@example.org", "b@example.org" };
	const char *more[] = { "b@example.org", "c@elsewhere.test" };
	const char *drop[] = { "a@example.org" };
	struct mb_alias alias;
	char error[512];

	assert_int_equal(mb_store_alias_add(f->store, "team@example.org", first, 2, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "team@example.org", more, 2, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_get(f->store, "team@example.org", &alias, error, sizeof(error)), 1);
	assert_int_equal(alias.target_count, 3); /* b is not added twice */
	assert_string_equal(alias.targets[2], "c@elsewhere.test");
	mb_alias_clear(&alias);
	assert_int_equal(mb_store_alias_del(f->store, "team@example.org", drop, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_del(f->store, "team@example.org", drop, 1, error, sizeof(error)), -ENOENT);
	assert_int_equal(mb_store_alias_del(f->store, "team@example.org", NULL, 0, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_get(f->store, "team@example.org", &alias, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "@example.org", first, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_get(f->store, "@example.org", &alias, error, sizeof(error)), 1);
	mb_alias_clear(&alias);
}

struct changed_aliases {
	char seen[8][MB_ADDRESS_MAX + 1];
	size_t left[8];
	size_t count;
};

static int note_changed(const struct mb_alias *alias, void *context)
{
	struct changed_aliases *c = context;

	if (c->count < 8) {
		snprintf(c->seen[c->count], sizeof(c->seen[0]), "%s", alias->source);
		c->left[c->count++] = alias->target_count;
	}
	return 0;
}

/* user del takes the user out of the aliases naming it (issue 16) */
static void test_user_del_unalias(void **state)
{
	struct store_fixture *f = *state;
	const char *team[] = { "ann@example.org", "bob@example.org", "bob+lists@example.org",
			       "bob@elsewhere.test" };
	const char *solo[] = { "bob@example.org" };
	const char *other[] = { "ann@example.org" };
	struct changed_aliases changed = { .count = 0 };
	struct mb_alias alias;
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "other.test", error, sizeof(error)), 0);
	fixture_add_user(f->store, "ann@example.org", true);
	fixture_add_user(f->store, "bob@example.org", true);
	assert_int_equal(mb_store_alias_add(f->store, "team@example.org", team, 4, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "bob@other.test", solo, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_add(f->store, "ann@other.test", other, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_target_state(f->store, "+", "bob+lists@example.org", error, sizeof(error)),
			 MB_TARGET_LIVE);

	assert_int_equal(mb_store_user_del_unalias(f->store, "bob@example.org", "+", note_changed, &changed,
						   error, sizeof(error)), 0);
	assert_int_equal(changed.count, 2);
	/* in key order: example.org/team, then other.test/bob */
	assert_string_equal(changed.seen[0], "team@example.org");
	assert_int_equal(changed.left[0], 2);
	assert_string_equal(changed.seen[1], "bob@other.test");
	assert_int_equal(changed.left[1], 0); /* its only target: deleted */
	assert_int_equal(mb_store_alias_get(f->store, "bob@other.test", &alias, error, sizeof(error)), 0);
	assert_int_equal(mb_store_alias_get(f->store, "team@example.org", &alias, error, sizeof(error)), 1);
	assert_int_equal(alias.target_count, 2);
	assert_string_equal(alias.targets[0], "ann@example.org");
	assert_string_equal(alias.targets[1], "bob@elsewhere.test"); /* not ours: stays */
	mb_alias_clear(&alias);
	assert_int_equal(mb_store_alias_get(f->store, "ann@other.test", &alias, error, sizeof(error)), 1);
	mb_alias_clear(&alias);
	assert_int_equal(mb_store_user_del_unalias(f->store, "bob@example.org", "+", NULL, NULL,
						   error, sizeof(error)), -ENOENT);

	/* a kept dangling target is marked */
	assert_int_equal(mb_store_alias_add(f->store, "old@example.org", solo, 1, error, sizeof(error)), 0);
	assert_int_equal(mb_store_target_state(f->store, "+", "bob@example.org", error, sizeof(error)),
			 MB_TARGET_MISSING);
	assert_int_equal(mb_store_target_state(f->store, "+", "x@elsewhere.test", error, sizeof(error)),
			 MB_TARGET_OUTSIDE);
	assert_int_equal(mb_store_target_state(f->store, "+", "old@example.org", error, sizeof(error)),
			 MB_TARGET_MISSING);
	assert_int_equal(mb_store_target_state(f->store, "+", "@example.org", error, sizeof(error)),
			 MB_TARGET_LIVE);
	assert_int_equal(mb_store_target_state(f->store, "+", "@gone.test", error, sizeof(error)),
			 MB_TARGET_MISSING);
	fixture_add_user(f->store, "off@example.org", false);
	assert_int_equal(mb_store_target_state(f->store, "+", "off+x@example.org", error, sizeof(error)),
			 MB_TARGET_DISABLED);
	assert_string_equal(mb_target_state_name(MB_TARGET_DISABLED), "disabled");
}

static int count_user(const struct mb_user *user, void *context)
{
	(void)user;
	(*(int *)context)++;
	return 0;
}

static void test_domain_del_keeps_or_forces(void **state)
{
	struct store_fixture *f = *state;
	const char *targets[] = { "x@example.org" };
	char error[512];
	int count = 0;

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "example.orgx.test", error, sizeof(error)), 0);
	fixture_add_user(f->store, "x@example.org", true);
	fixture_add_user(f->store, "y@example.orgx.test", true);
	assert_int_equal(mb_store_alias_add(f->store, "al@example.org", targets, 1, error, sizeof(error)), 0);

	assert_int_equal(mb_store_domain_del(f->store, "example.org", false, error, sizeof(error)), -ENOTEMPTY);
	assert_non_null(strstr(error, "--force"));
	/* the refused delete changed nothing */
	assert_int_equal(mb_store_domain_exists(f->store, "example.org", error, sizeof(error)), 1);
	assert_int_equal(mb_store_users_foreach(f->store, "example.org", count_user, &count, error, sizeof(error)), 0);
	assert_int_equal(count, 1);

	assert_int_equal(mb_store_domain_del(f->store, "example.org", true, error, sizeof(error)), 0);
	count = 0;
	assert_int_equal(mb_store_users_foreach(f->store, NULL, count_user, &count, error, sizeof(error)), 0);
	assert_int_equal(count, 1); /* the other domain's user, despite the shared prefix */
}

static void test_second_handle_sees_changes_at_once(void **state)
{
	struct store_fixture *f = *state;
	struct mb_store *reader;
	char error[512];

	assert_int_equal(mb_store_open(f->location, MB_STORE_READ, &reader, error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_exists(reader, "live.example", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "live.example", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_exists(reader, "live.example", error, sizeof(error)), 1);
	assert_int_equal(mb_store_domain_add(reader, "ro.example", error, sizeof(error)), -EPERM);
	mb_store_close(&reader);
	assert_null(reader);
}

/* the generation changes with every table change made by any handle,
   and not with state writes (lock-out counters, greylisting) */
static void test_generation_follows_table_changes(void **state)
{
	struct store_fixture *f = *state;
	struct mb_store *reader;
	uint64_t before, after, again;
	char error[512];

	assert_int_equal(mb_store_open(f->location, MB_STORE_READ, &reader, error, sizeof(error)), 0);
	assert_int_equal(mb_store_generation(reader, &before, error, sizeof(error)), 1);
	assert_int_equal(mb_store_domain_add(f->store, "gen.example", error, sizeof(error)), 0);
	assert_int_equal(mb_store_generation(reader, &after, error, sizeof(error)), 1);
	assert_true(after != before);
	assert_int_equal(mb_state_put(f->store, "authfail/ip/192.0.2.1", "1", 4000000000, error, sizeof(error)), 0);
	assert_int_equal(mb_store_generation(reader, &again, error, sizeof(error)), 1);
	assert_true(again == after);
	mb_store_close(&reader);
}

static void test_refuses_world_readable_store(void **state)
{
	struct store_fixture *f = *state;
	struct mb_store *other;
	char path[128], error[512];

	snprintf(path, sizeof(path), "%s/store/data.mdb", f->dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(mb_store_open(f->location, MB_STORE_READ, &other, error, sizeof(error)), -1);
	assert_non_null(strstr(error, "chmod o-rwx"));
	assert_int_equal(chmod(path, 0660), 0);
	assert_int_equal(mb_store_open("lmdb:/nonexistent/store", MB_STORE_READ, &other, error, sizeof(error)), -1);
	assert_non_null(strstr(error, "mailbag init"));
	assert_int_equal(mb_store_open("mysql:/x", MB_STORE_READ, &other, error, sizeof(error)), -1);
}

static void test_state_counters_expire(void **state)
{
	struct store_fixture *f = *state;
	struct mb_store *reader;
	char error[512], value[64];
	int64_t count;

	/* a store opened for reading still counts */
	assert_int_equal(mb_store_open(f->location, MB_STORE_READ, &reader, error, sizeof(error)), 0);
	assert_int_equal(mb_state_add(reader, "rl/a", 1, 1060, 1000, &count, error, sizeof(error)), 0);
	assert_int_equal(count, 1);
	assert_int_equal(mb_state_add(reader, "rl/a", 2, 9999, 1010, &count, error, sizeof(error)), 0);
	assert_int_equal(count, 3); /* a live counter keeps its first expiry */
	/* another handle (another process) sees the same counter */
	assert_int_equal(mb_state_add(f->store, "rl/a", 1, 1060, 1020, &count, error, sizeof(error)), 0);
	assert_int_equal(count, 4);
	assert_int_equal(mb_state_get(reader, "rl/a", 1059, value, sizeof(value), error, sizeof(error)), 1);
	assert_string_equal(value, "4");
	/* at its expiry it is gone, and counting starts again */
	assert_int_equal(mb_state_get(reader, "rl/a", 1060, value, sizeof(value), error, sizeof(error)), 0);
	assert_int_equal(mb_state_add(reader, "rl/a", 1, 1120, 1060, &count, error, sizeof(error)), 0);
	assert_int_equal(count, 1);
	mb_store_close(&reader);
}

static void test_state_put_get_and_sweep(void **state)
{
	struct store_fixture *f = *state;
	char error[512], value[16], key[32];

	assert_int_equal(mb_state_put(f->store, "gl/x", "100 0", 500, error, sizeof(error)), 0);
	assert_int_equal(mb_state_get(f->store, "gl/x", 499, value, sizeof(value), error, sizeof(error)), 1);
	assert_string_equal(value, "100 0");
	/* a short buffer gets a truncated, terminated value */
	assert_int_equal(mb_state_get(f->store, "gl/x", 499, value, 3, error, sizeof(error)), 1);
	assert_string_equal(value, "10");
	assert_int_equal(mb_state_get(f->store, "gl/none", 1, value, sizeof(value), error, sizeof(error)), 0);
	/* keys out of bounds are refused, not truncated */
	char long_key[MB_STATE_KEY_MAX + 2];
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	assert_int_equal(mb_state_put(f->store, long_key, "1", 500, error, sizeof(error)), -1);
	assert_int_equal(mb_state_put(f->store, "", "1", 500, error, sizeof(error)), -1);

	/* sweeping removes expired entries only, across several slices */
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k/%05d", i);
		assert_int_equal(mb_state_put(f->store, key, "v", i % 2 ? 100 : 900, error, sizeof(error)), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(mb_state_maintain(f->store, 200, error, sizeof(error)), 0);
	assert_int_equal(mb_state_get(f->store, "k/00002", 200, value, sizeof(value), error, sizeof(error)), 1);
	assert_int_equal(mb_state_get(f->store, "k/00001", 200, value, sizeof(value), error, sizeof(error)), 0);
	/* read the raw environment (LMDB wants one handle per process, so
	   ours is closed first): expired keys are physically gone */
	mb_store_close(&f->store);
	char path[128];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat stat;
	snprintf(path, sizeof(path), "%s/store/state.mdb", f->dir);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "state", 0, &dbi), 0);
	assert_int_equal(mdb_stat(txn, dbi, &stat), 0);
	assert_int_equal(stat.ms_entries, 2500 + 1); /* the even keys and gl/x */
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* Reading the state never creates it: a root-run command would leave
   files the daemons' user could not open. Writing does. */
static void test_state_read_does_not_create(void **state)
{
	struct store_fixture *f = *state;
	struct mb_store *reader;
	char path[128], lock[140], error[512], value[16];
	int64_t count;

	snprintf(path, sizeof(path), "%s/store/state.mdb", f->dir);
	snprintf(lock, sizeof(lock), "%s-lock", path);
	assert_int_equal(access(path, F_OK), 0); /* made with the store */
	mb_store_close(&f->store);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(unlink(lock), 0);
	assert_int_equal(mb_store_open(f->location, MB_STORE_READ, &reader, error, sizeof(error)), 0);
	assert_int_equal(mb_state_get(reader, "usage/a@b.c", 1, value, sizeof(value), error, sizeof(error)), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(mb_state_add(reader, "c", 1, 100, 1, &count, error, sizeof(error)), 0);
	assert_int_equal(access(path, F_OK), 0);
	mb_store_close(&reader);
}

/* Redis keeps expiry on its own clock: real seconds here */
static void test_redis_state_expires(void **state)
{
	struct store_fixture *f = *state;
	struct mb_store *other;
	char error[512], value[16];
	int64_t count, now = (int64_t)time(NULL);

	assert_int_equal(mb_store_open(f->location, MB_STORE_READ, &other, error, sizeof(error)), 0);
	assert_int_equal(mb_state_add(f->store, "c", 1, now + 2, now, &count, error, sizeof(error)), 0);
	assert_int_equal(mb_state_add(other, "c", 5, now + 100, now, &count, error, sizeof(error)), 0);
	assert_int_equal(count, 6); /* one counter for both handles (both nodes) */
	assert_int_equal(mb_state_put(other, "g", "10 0", now + 2, error, sizeof(error)), 0);
	assert_int_equal(mb_state_get(f->store, "g", now, value, sizeof(value), error, sizeof(error)), 1);
	assert_string_equal(value, "10 0");
	sleep(3);
	assert_int_equal(mb_state_get(f->store, "g", now, value, sizeof(value), error, sizeof(error)), 0);
	assert_int_equal(mb_state_get(f->store, "c", now, value, sizeof(value), error, sizeof(error)), 0);
	assert_int_equal(mb_state_add(f->store, "c", 1, now + 100, now, &count, error, sizeof(error)), 0);
	assert_int_equal(count, 1);
	mb_store_close(&other);
}

/* Redis stopped: every call fails with a message naming the server (and
   no password); started again: the same handle works without reopening. */
static void test_redis_down_then_back(void **state)
{
	struct store_fixture *f = *state;
	struct mb_user user;
	char error[512];

	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	fixture_stop_redis(f);
	assert_int_equal(mb_store_domain_exists(f->store, "example.org", error, sizeof(error)), -1);
	assert_non_null(strstr(error, "Redis unix:"));
	assert_int_equal(mb_store_user_get(f->store, "a@example.org", &user, error, sizeof(error)), -1);
	assert_int_equal(mb_store_domain_add(f->store, "other.example", error, sizeof(error)), -EIO);
	assert_int_equal(fixture_start_redis(f), 0);
	sleep(1); /* reconnection is tried at most once a second */
	/* a fresh server (no persistence): empty, but answering */
	assert_int_equal(mb_store_domain_exists(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_add(f->store, "example.org", error, sizeof(error)), 0);
	assert_int_equal(mb_store_domain_exists(f->store, "example.org", error, sizeof(error)), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_domains, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_users, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_aliases, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_user_del_unalias, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_domain_del_keeps_or_forces, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_second_handle_sees_changes_at_once, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_generation_follows_table_changes, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_refuses_world_readable_store, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_state_counters_expire, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_state_put_get_and_sweep, store_fixture_setup, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_state_read_does_not_create, store_fixture_setup, store_fixture_teardown),
		/* the backend-neutral tests again, on a real Redis */
		cmocka_unit_test_setup_teardown(test_domains, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_users, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_aliases, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_domain_del_keeps_or_forces, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_second_handle_sees_changes_at_once, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_redis_state_expires, store_fixture_setup_redis, store_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_redis_down_then_back, store_fixture_setup_redis, store_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
