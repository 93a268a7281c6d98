/* domains.c - the domains served here, added, changed, deleted
 *
 * SUMMARY
 *	The actions of `mailbag domain add|del|limits` (cmd-domain.c parses
 *	their arguments and prints what they did): a domain record with its
 *	default quota and message-size limit, made in one store
 *	transaction, its limits changed, or the domain deleted (with its
 *	users and aliases when forced). A domain that is a domain alias
 *	("@domain" -> "@other") cannot also serve mailboxes.
 */
#include "domains.h"
#include "system-aliases.h"

#include <stdio.h>
#include <sysexits.h>
#include <time.h>

/* is_alias_domain - whether "@domain" is a domain alias: 1, 0, -1 (why in error) */
static int is_alias_domain(struct cli *cli, const char *domain, char *error, size_t error_size)
{
	char source[MB_DOMAIN_MAX + 2];
	struct mb_alias alias;
	int ret;

	snprintf(source, sizeof(source), "@%s", domain);
	ret = mb_store_alias_get(cli->store, source, &alias, error, error_size);
	if (ret > 0) {
		ret = alias.target_count > 0 && alias.targets[0][0] == '@';
		mb_alias_clear(&alias);
	}
	return ret;
}

/* apply_limits - the options' limits onto record */
static void apply_limits(const struct cli_domain_options *opts, struct mb_domain *record)
{
	if (opts->set_quota)
		record->quota_bytes = opts->quota_bytes;
	if (opts->set_max_message)
		record->max_message_bytes = opts->max_message_bytes;
}

int cli_domain_add(struct cli *cli, const char *domain, const struct cli_domain_options *opts)
{
	struct mb_domain record = { .quota_bytes = MB_LIMIT_DEFAULT,
				    .max_message_bytes = MB_LIMIT_DEFAULT,
				    .created = (int64_t)time(NULL) };
	char error[1024];
	int ret;

	snprintf(record.name, sizeof(record.name), "%s", domain);
	apply_limits(opts, &record);
	if ((ret = cli_refuse_host_name_domain(cli, domain)) != EX_OK)
		return ret;
	ret = is_alias_domain(cli, domain, error, sizeof(error));
	if (ret != 0)
		return ret < 0 ? cli_fail(cli, EX_TEMPFAIL, "%s", error) :
			cli_fail(cli, EX_DATAERR, "%s is a domain alias; remove it first with 'mailbag alias del @%s'",
				 domain, domain);
	/* the domain and its limits in one transaction */
	if ((ret = mb_store_domain_create(cli->store, &record, error, sizeof(error))) < 0)
		return cli_fail(cli, cli_store_exit_code(ret), "%s", error);
	return EX_OK;
}

int cli_domain_get(struct cli *cli, const char *domain, struct mb_domain *record_r)
{
	char error[1024];
	int ret = mb_store_domain_get(cli->store, domain, record_r, error, sizeof(error));

	if (ret <= 0)
		return ret < 0 ? cli_fail(cli, EX_TEMPFAIL, "%s", error) :
				 cli_fail(cli, EX_NOUSER, "domain %s does not exist", domain);
	return EX_OK;
}

int cli_domain_set_limits(struct cli *cli, const char *domain, const struct cli_domain_options *opts)
{
	struct mb_domain record;
	char error[1024];
	int ret = cli_domain_get(cli, domain, &record);

	if (ret != EX_OK)
		return ret;
	apply_limits(opts, &record);
	if ((ret = mb_store_domain_update(cli->store, &record, error, sizeof(error))) < 0)
		return cli_fail(cli, cli_store_exit_code(ret), "%s", error);
	return EX_OK;
}

int cli_domain_del(struct cli *cli, const char *domain, bool force)
{
	char error[1024];
	int ret = mb_store_domain_del(cli->store, domain, force, error, sizeof(error));

	return ret < 0 ? cli_fail(cli, cli_store_exit_code(ret), "%s", error) : EX_OK;
}
