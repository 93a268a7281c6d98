/* dkim-rotate.c - a domain's DKIM keys shown, rotated, activated
 *
 * SUMMARY
 *	The actions of `mailbag dkim show|rotate|activate` (cmd-dkim.c
 *	parses their arguments and prints). show says every key's record
 *	and what it does now. rotate is planned (no rotation under way; the
 *	keys signing now keep signing), then the caller makes the new pair
 *	(cli_dkim_keygen, dkim-keys.c), then it is started: the pair is
 *	pending, signing after dkim.rotation_delay (the milter reads the
 *	rotation state). activate looks the pending records up in DNS and,
 *	when they are all there (or forced), makes them sign from now on;
 *	the keys they replace stay published for dkim.retire_after.
 */
#include "dkim-rotate.h"
#include "dns-query.h"

#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

int cli_dkim_show(struct cli *cli, const char *domain, cli_dkim_record_cb *cb, void *context)
{
	char dir[4096], error[1024], state[256];
	struct cli_dkim_key keys[CLI_DKIM_KEYS_MAX];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);
	int ret = EX_OK;

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim.key_dir, domain);
	int count = cli_dkim_read_keys(cli, dir, domain, keys);
	if (count < 0)
		return EX_NOINPUT;
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0)
		ret = cli_fail(cli, EX_DATAERR, "%s", error);
	for (int i = 0; i < count; i++) {
		char *value = cli_dkim_txt_value(keys[i].key);
		if (value == NULL) {
			ret = cli_fail(cli, EX_DATAERR, "cannot encode the public key of %s", keys[i].selector);
			continue;
		}
		cli_dkim_key_state(&rotation, keys, count, i, now, state, sizeof(state));
		cb(keys[i].selector, value, state, context);
		free(value);
	}
	cli_dkim_free_keys(keys, count);
	return ret;
}

/* dns_has_txt - 1 when name has a TXT record equal to want, 0 when not,
   -1 when DNS could not say (why written) */
static int dns_has_txt(struct cli_dns *dns, const char *name, const char *want,
		       char *why, size_t why_size)
{
	struct cli_dns_answers txt;
	int found = cli_dns_lookup(dns, name, ns_t_txt, &txt, why, why_size);

	if (found <= 0) {
		if (found == 0)
			snprintf(why, why_size, "no TXT record");
		return found;
	}
	snprintf(why, why_size, "a different TXT record");
	found = 0;
	for (size_t i = 0; i < txt.count; i++)
		found = found || cli_same_record(txt.items[i], want);
	cli_dns_answers_free(&txt);
	return found;
}

/* next_base - today's dated base, or the first of BASE-2..BASE-9 not used */
static int next_base(const char *dir, char base[CLI_DKIM_SELECTOR_MAX + 1])
{
	char today[16], path[4400];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "mb%Y%m%d", &tm);
	for (int i = 1; i <= 9; i++) {
		if (i == 1)
			snprintf(base, CLI_DKIM_SELECTOR_MAX + 1, "%s", today);
		else
			snprintf(base, CLI_DKIM_SELECTOR_MAX + 1, "%s-%d", today, i);
		snprintf(path, sizeof(path), "%s/%sr.key", dir, base);
		if (access(path, F_OK) < 0)
			return 0;
	}
	return -1;
}

int cli_dkim_rotate_plan(struct cli *cli, const char *domain, const char *base,
			 struct cli_dkim_rotation_plan *plan_r)
{
	struct cli_dkim_rotation_plan *plan = plan_r;
	char error[1024], when[64];
	struct cli_dkim_key keys[CLI_DKIM_KEYS_MAX];
	struct mb_dkim_rotation *rotation = &plan->rotation;
	int64_t now = (int64_t)time(NULL);

	memset(plan, 0, sizeof(*plan));
	plan->now = now;
	snprintf(plan->dir, sizeof(plan->dir), "%s/%s", cli->ctx->dkim.key_dir, domain);
	if (mb_dkim_rotation_read(plan->dir, rotation, error, sizeof(error)) < 0)
		return cli_fail(cli, EX_DATAERR, "%s", error);
	if (rotation->pending.count > 0 && now < rotation->pending_after) {
		cli_dkim_format_time(rotation->pending_after, when, sizeof(when));
		return cli_fail(cli, EX_TEMPFAIL, "a rotation of %s is under way (%s signs from %s); "
				"run 'mailbag dkim activate %s' once its records are in DNS", domain,
				rotation->pending.selectors[0], when, domain);
	}
	int count = cli_dkim_read_keys(cli, plan->dir, domain, keys);
	if (count <= 0)
		return count < 0 ? EX_NOINPUT :
			cli_fail(cli, EX_NOINPUT, "%s has no keys to rotate; make them with 'mailbag dkim keygen %s'",
				 domain, domain);
	/* the keys signing now keep signing until the new ones may */
	const struct mb_dkim_set *active = mb_dkim_rotation_active(rotation, now);
	struct mb_dkim_set *current = &plan->current;
	for (int i = 0; i < count && current->count < MB_DKIM_SET_MAX; i++) {
		if (active != NULL ? cli_dkim_set_has(active, keys[i].selector) : cli_dkim_newest_of_type(keys, count, i))
			snprintf(current->selectors[current->count++], MB_DKIM_SELECTOR_MAX + 1, "%.63s", keys[i].selector);
	}
	cli_dkim_free_keys(keys, count);
	plan->base = base;
	if (base == NULL) {
		if (next_base(plan->dir, plan->next_base) < 0)
			return cli_fail(cli, EX_CANTCREAT, "nine rotations of %s today already; pass --selector", domain);
		plan->base = plan->next_base;
	}
	return EX_OK;
}

int cli_dkim_rotate_start(struct cli *cli, struct cli_dkim_rotation_plan *plan)
{
	struct mb_dkim_rotation *rotation = &plan->rotation;
	char error[1024];

	rotation->signing = plan->current;
	rotation->pending.count = 0;
	snprintf(rotation->pending.selectors[rotation->pending.count++], MB_DKIM_SELECTOR_MAX + 1, "%.62sr", plan->base);
	snprintf(rotation->pending.selectors[rotation->pending.count++], MB_DKIM_SELECTOR_MAX + 1, "%.62se", plan->base);
	rotation->pending_after = plan->now + cli->ctx->dkim.rotation_delay;
	if (mb_dkim_rotation_write(plan->dir, rotation, (long)cli_dkim_key_group(cli), error, sizeof(error)) < 0)
		return cli_fail(cli, EX_IOERR, "%s", error);
	plan->signs_from = rotation->pending_after;
	return EX_OK;
}

int cli_dkim_activate(struct cli *cli, const char *domain, bool force, cli_dkim_checked_cb *checked,
		      void *context, struct mb_dkim_set *signing_r)
{
	char dir[4096], path[4400], error[1024], name[MB_DKIM_SELECTOR_MAX + MB_DOMAIN_MAX + 16], why[512];
	struct mb_dkim_rotation rotation;
	int64_t now = (int64_t)time(NULL);
	int missing = 0;

	snprintf(dir, sizeof(dir), "%s/%s", cli->ctx->dkim.key_dir, domain);
	if (mb_dkim_rotation_read(dir, &rotation, error, sizeof(error)) < 0)
		return cli_fail(cli, EX_DATAERR, "%s", error);
	if (rotation.pending.count == 0)
		return cli_fail(cli, EX_DATAERR, "no rotation of %s is pending; start one with 'mailbag dkim rotate %s'",
				domain, domain);
	struct cli_dns *dns = cli_dns_open(NULL, error, sizeof(error));
	if (dns == NULL)
		return cli_fail(cli, EX_UNAVAILABLE, "%s", error);
	for (size_t i = 0; i < rotation.pending.count; i++) {
		const char *selector = rotation.pending.selectors[i];
		snprintf(path, sizeof(path), "%s/%s.key", dir, selector);
		EVP_PKEY *key = cli_dkim_read_key(path);
		char *want = key != NULL ? cli_dkim_txt_value(key) : NULL;
		EVP_PKEY_free(key);
		if (want == NULL) {
			cli_dns_close(dns);
			return cli_fail(cli, EX_DATAERR, "%s is missing or not a key", path);
		}
		snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);
		int found = dns_has_txt(dns, name, want, why, sizeof(why));
		free(want);
		checked(name, found == 1, why, context);
		if (found != 1)
			missing++;
	}
	cli_dns_close(dns);
	if (missing > 0 && !force)
		return cli_fail(cli, EX_TEMPFAIL, "%d record%s of the new keys not in DNS yet; the old keys keep signing",
				missing, missing > 1 ? "s" : "");
	for (size_t i = 0; i < rotation.signing.count && rotation.retired_count < MB_DKIM_RETIRED_MAX; i++) {
		if (cli_dkim_set_has(&rotation.pending, rotation.signing.selectors[i]))
			continue;
		snprintf(rotation.retired[rotation.retired_count].selector, MB_DKIM_SELECTOR_MAX + 1, "%s",
			 rotation.signing.selectors[i]);
		rotation.retired[rotation.retired_count++].until = now + cli->ctx->dkim.retire_after;
	}
	rotation.signing = rotation.pending;
	rotation.pending.count = 0;
	rotation.pending_after = 0;
	if (mb_dkim_rotation_write(dir, &rotation, (long)cli_dkim_key_group(cli), error, sizeof(error)) < 0)
		return cli_fail(cli, EX_IOERR, "%s", error);
	*signing_r = rotation.signing;
	return EX_OK;
}
