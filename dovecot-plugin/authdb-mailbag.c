/* authdb-mailbag.c - Dovecot 2.3 and 2.4 passdb and userdb driver "mailbag"
 *
 * SUMMARY
 *	Dovecot 2.3:
 *	passdb { driver = mailbag  args = /etc/mailbag/context.json }
 *	userdb { driver = mailbag  args = /etc/mailbag/context.json }
 *
 *	Dovecot 2.4 (mailbag-settings.c declares the setting):
 *	passdb mailbag { driver = mailbag  mailbag_context_path = PATH }
 *	userdb mailbag { driver = mailbag  mailbag_context_path = PATH }
 *
 * DESCRIPTION
 *	Loaded by Dovecot's auth process from modules/auth as
 *	libauthdb_mailbag.so, built for the Dovecot whose headers it was
 *	compiled with: Dovecot refuses a module of another ABI version. An
 *	empty or missing path is the built-in default context file. The
 *	passdb checks a login's password against the stored {SCHEME} hash
 *	with Dovecot's own verification (login-verify.c: from the
 *	verified-credential cache for a repeat login, else in an auth-worker
 *	process), and hands the hash to Dovecot for credentials lookups;
 *	records are kept decoded while the store is unchanged
 *	(mailbag-db.c). The userdb returns uid, gid, home, the mail
 *	location (2.3: mail; 2.4: mail_driver and mail_path) and the quota
 *	(2.3: quota_rule; 2.4: quota_storage_size). On a node of several
 *	(context node and nodes), a verified IMAP, POP3 or ManageSieve login
 *	whose record names another node is answered with Dovecot's proxy
 *	fields (proxy_maybe, host, port, ssl or starttls), so the login
 *	process proxies it to that node; a node the context does not know,
 *	and a userdb lookup other than doveadm's for a mailbox elsewhere,
 *	are temporary failures (lib/node-route.c has the rules). 2.4's
 *	userdb fields { } and 2.3's override_fields apply over the store's
 *	answer. With the LMDB store, lookups read a memory map in the auth
 *	process itself; with Redis
 *	(a network round trip that can stall) the driver declares itself
 *	blocking, so Dovecot runs it in its auth-worker processes and one
 *	slow Redis answer never holds up the auth process. Dovecot 2.4
 *	sets blocking from use_worker after preinit; the driver sets it
 *	again in init, so a Redis store runs in workers even without
 *	use_worker = yes.
 *
 * SECURITY
 *	User names with '%', control characters or over 512 bytes are
 *	refused before any lookup. A disabled user is refused after the
 *	password check, so strangers cannot probe which accounts exist. No
 *	password or hash is ever logged. A mailbox frozen for a move to
 *	another node (`mailbag user move`) is a temporary failure, after
 *	the password check, for every service but doveadm, whose dsync
 *	does the copying: logins, and the userdb lookup of Dovecot's LMTP
 *	(after the move's switch, the old node's LMTP is refused her as a
 *	mailbox elsewhere: mail judged before the move is deferred, not
 *	saved in the copy left behind).
 *
 * DIAGNOSTICS
 *	A bad context file or a store that cannot be opened is logged once
 *	per failing lookup and answered as an internal (temporary) failure;
 *	opening is retried on the next lookup. A record that cannot be read
 *	fails that lookup only.
 */
#include "lib.h"
#include "auth-common.h"
#include "passdb.h"
#include "userdb.h"
#include "password-scheme.h"
#if DOVECOT_PREREQ(2, 4, 0)
#  include "settings.h"
#  include "mailbag-settings.h"
#endif

/* The symbols only one of 2.3 and 2.4 has are referenced weakly: the
   Dovecot of the other ABI then dlopen()s this module and refuses it by
   authdb_mailbag_version ("Module is for different ABI version ...")
   instead of failing on the first unresolved symbol. */
#if DOVECOT_PREREQ(2, 4, 0)
#  pragma weak settings_get
#  pragma weak auth_request_db_log_unknown_user
#  pragma weak auth_request_set_userdb_fields
#else
#  pragma weak auth_default_subsystems
#endif

#include "login-verify.h"
#include "mailbag-db.h"

#include "account.h"
#include "address.h"
#include "context.h"
#include "lockout.h"
#include "node-route.h"
#include "password.h"
#include "store.h"

#include <stdio.h>
#include <time.h>

#define MAILBAG_USERNAME_MAX 512

struct mailbag_passdb_module {
	struct passdb_module module;
	struct mailbag_db *db;
};

struct mailbag_userdb_module {
	struct userdb_module module;
	struct mailbag_db *db;
};

const char *authdb_mailbag_version = DOVECOT_ABI_VERSION;
void authdb_mailbag_init(void);
void authdb_mailbag_deinit(void);

#if DOVECOT_PREREQ(2, 4, 0)
/* mailbag_db_get_event - the db named by mailbag_context_path, as the
   passdb or userdb block (or the top level) of event sets it */
static int mailbag_db_get_event(struct event *event, struct mailbag_db **db_r,
				const char **error_r)
{
	const struct mailbag_settings *set;
	int ret;

	if (settings_get(event, &mailbag_setting_parser_info, 0, &set, error_r) < 0)
		return -1;
	ret = mailbag_db_get(set->mailbag_context_path, db_r, error_r);
	settings_free(set);
	return ret;
}
#else
/* mailbag_db_get_args - the db named by the args string, or fatal */
static struct mailbag_db *mailbag_db_get_args(const char *args)
{
	struct mailbag_db *db;
	const char *error;

	if (mailbag_db_get(args, &db, &error) < 0)
		i_fatal("%s", error);
	return db;
}
#endif

/* username_acceptable - refuse names no lookup should ever see */
static bool username_acceptable(const char *user)
{
	size_t len = strlen(user);

	if (len == 0 || len > MAILBAG_USERNAME_MAX)
		return FALSE;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c == '%' || c < 0x20 || c == 0x7f)
			return FALSE;
	}
	return TRUE;
}

/* lookup_user - 1 found (*user_r valid until the next lookup, not to be
   cleared), 0 unknown, -1 failure */
static int lookup_user(struct mailbag_db *db, struct auth_request *request,
		       const struct mb_user **user_r)
{
	const char *name = request->fields.user, *error;
	char address[MB_ADDRESS_MAX + 1], store_error[512];
	struct mb_address parsed;
	int ret;

	if (!username_acceptable(name)) {
		e_info(authdb_event(request), "mailbag: refusing a user name with '%%', a control character or over %d bytes",
		       MAILBAG_USERNAME_MAX);
		return 0;
	}
	if (mb_address_parse(name, NULL, &parsed, &error) < 0) {
		e_debug(authdb_event(request), "mailbag: not an address: %s", error);
		return 0;
	}
	mb_address_format(&parsed, address, sizeof(address));
	if (mailbag_db_ready(db, &error) < 0) {
		e_error(authdb_event(request), "mailbag: %s", error);
		return -1;
	}
	ret = mailbag_db_user(db, address, user_r, store_error, sizeof(store_error));
	if (ret < 0)
		e_error(authdb_event(request), "mailbag: store lookup failed: %s", store_error);
	return ret;
}

/* request_service - the service logged in to or looked up for: "imap",
   "pop3", "sieve", "smtp", "lmtp", "doveadm", ... */
static const char *request_service(const struct auth_request *request)
{
#if DOVECOT_PREREQ(2, 4, 0)
	const char *service = request->fields.protocol;
#else
	const char *service = request->fields.service;
#endif
	return service != NULL ? service : "";
}

/* route_request - which node answers this request for a user whose
   record names node; a temporary failure is logged here */
static enum mb_node_answer route_request(struct auth_request *request, const struct mailbag_db *db,
					 const char *node, enum mb_node_lookup lookup,
					 struct mb_node_route *route_r)
{
	mb_node_route(mailbag_db_context(db), node, request_service(request), lookup, route_r);
	if (route_r->answer == MB_NODE_TEMPFAIL)
		e_error(authdb_event(request), "mailbag: %s: answering a temporary failure",
			route_r->reason);
	return route_r->answer;
}

/* set_proxy_fields - Dovecot's login process proxies the session to the
   node holding the mailbox, which checks the password again against the
   same store. proxy_maybe: a host that is this Dovecot's own address
   (the one the client reached) is served here instead of looping. TLS
   to the backend verifies its certificate (ssl_client_ca_* settings). */
static void set_proxy_fields(struct auth_request *request, const struct mb_node_route *route)
{
	auth_request_set_field(request, "proxy_maybe", "y", NULL);
	auth_request_set_field(request, "host", route->node->host, NULL);
	auth_request_set_field(request, "port", dec2str(route->port), NULL);
	if (route->ssl == MB_NODE_SSL_YES)
		auth_request_set_field(request, "ssl", "yes", NULL);
	else if (route->ssl == MB_NODE_SSL_STARTTLS)
		auth_request_set_field(request, "starttls", "yes", NULL);
	e_debug(authdb_event(request), "mailbag: the mailbox is on node %s: proxying to %s port %u (TLS %s)",
		route->node->lmtp.name, route->node->host, route->port, mb_node_ssl_name(route->ssl));
}

/* frozen_for_move - TRUE (logged) when user's mailbox is frozen for a
   move and request is not doveadm's: that request fails temporarily */
static bool frozen_for_move(struct auth_request *request, const struct mb_user *user)
{
	const char *service = request_service(request);

	if (!mb_user_frozen(user, (int64_t)time(NULL)) || strcmp(service, "doveadm") == 0)
		return FALSE;
	e_info(authdb_event(request), "mailbag: mailbox being moved to node %s; temporary failure",
	       user->move.to);
	return TRUE;
}

/* set_password_field - give Dovecot the hash; returns crypted/scheme */
static void set_password_field(struct auth_request *request, const struct mb_user *user,
			       const char **crypted_r, const char **scheme_r)
{
	const char *crypted = t_strdup(user->password_hash);
	const char *scheme = password_get_scheme(&crypted);

	if (scheme == NULL)
		scheme = request->passdb->passdb->default_pass_scheme;
	auth_request_set_field(request, "password", crypted, scheme);
	*crypted_r = crypted;
	*scheme_r = scheme;
}

/* passdb_user - the user of a passdb request: OK with user_r filled, or
   the result to report (the unknown user is logged as Dovecot's own
   drivers do) */
static enum passdb_result passdb_user(struct auth_request *request, const struct mb_user **user_r)
{
	struct mailbag_passdb_module *module =
		(struct mailbag_passdb_module *)request->passdb->passdb;
	int ret = lookup_user(module->db, request, user_r);

	if (ret < 0)
		return PASSDB_RESULT_INTERNAL_FAILURE;
	if (ret == 0) {
#if DOVECOT_PREREQ(2, 4, 0)
		auth_request_db_log_unknown_user(request);
#else
		auth_request_log_unknown_user(request, AUTH_SUBSYS_DB);
#endif
		return PASSDB_RESULT_USER_UNKNOWN;
	}
	return PASSDB_RESULT_OK;
}

/* The address and the account a lock-out counts for. The account is the
   login as given (lower-cased), so unknown names count too. */
struct login_origin {
	char ip[64];
	char account[MAILBAG_USERNAME_MAX + 1];
};

static void login_origin(struct auth_request *request, struct login_origin *origin)
{
	const char *ip = request->fields.remote_ip.family != 0 ?
		net_ip2addr(&request->fields.remote_ip) : "";
	i_snprintf(origin->ip, sizeof(origin->ip), "%s", ip);
	mb_lower_copy(request->fields.user, origin->account, sizeof(origin->account));
}

/* lockout_refuses - TRUE when the origin is locked out (logged); a state
   that cannot be read is an internal failure, reported in *failed_r */
static bool lockout_refuses(struct auth_request *request, const struct login_origin *origin,
			    bool *failed_r)
{
	struct mailbag_passdb_module *module =
		(struct mailbag_passdb_module *)request->passdb->passdb;
	struct mailbag_db *db = module->db;
	const char *error;
	char why[256];
	int ret;

	*failed_r = FALSE;
	if (mailbag_db_ready(db, &error) < 0) {
		e_error(authdb_event(request), "mailbag: %s", error);
		*failed_r = TRUE;
		return TRUE;
	}
	ret = mb_lockout_check(mailbag_db_store(db), mailbag_db_context(db), origin->ip, origin->account, (int64_t)time(NULL),
			       why, sizeof(why));
	if (ret < 0) {
		e_error(authdb_event(request), "mailbag: lock-out state: %s", why);
		*failed_r = TRUE;
		return TRUE;
	}
	if (ret > 0)
		e_info(authdb_event(request), "mailbag: %s; password not checked", why);
	return ret > 0;
}

static void lockout_count(struct auth_request *request, const struct login_origin *origin,
			  bool success)
{
	struct mailbag_passdb_module *module =
		(struct mailbag_passdb_module *)request->passdb->passdb;
	struct mailbag_db *db = module->db;
	struct mb_store *store = mailbag_db_store(db);
	const struct mb_context *ctx = mailbag_db_context(db);
	char error[256];
	int ret = success ?
		mb_lockout_succeeded(store, ctx, origin->account, (int64_t)time(NULL),
				     error, sizeof(error)) :
		mb_lockout_failed(store, ctx, origin->ip, origin->account, (int64_t)time(NULL),
				  error, sizeof(error));

	if (ret < 0)
		e_error(authdb_event(request), "mailbag: counting a login for lock-out: %s", error);
}

/* auto_create - the first login of an unknown address on a domain in
   auto_create.domains creates the account with this password (the
   chatmail way: no sign-up step). TRUE when created. */
static bool auto_create(struct auth_request *request, const char *password)
{
	struct mailbag_passdb_module *module =
		(struct mailbag_passdb_module *)request->passdb->passdb;
	const struct mb_context *ctx = mailbag_db_context(module->db);
	char address[MB_ADDRESS_MAX + 1], hash[MB_HASH_MAX], home[4096], error[512];
	struct mb_address parsed;
	struct mb_user user;
	const char *why;

	if (ctx == NULL || ctx->auto_create.domains.count == 0 ||
	    mb_address_parse(request->fields.user, NULL, &parsed, &why) < 0)
		return FALSE;
	mb_address_format(&parsed, address, sizeof(address));
	why = mb_auto_create_refusal(ctx, address, password);
	if (why != NULL) {
		e_debug(authdb_event(request), "mailbag: not auto-creating: %s", why);
		return FALSE;
	}
	if (mb_password_hash(password, hash, &why) < 0) {
		e_error(authdb_event(request), "mailbag: auto-create: %s", why);
		return FALSE;
	}
	mb_account_prepare(ctx, address, &user, home, sizeof(home));
	user.password_hash = hash;
	int ret = mb_store_user_add(mailbag_db_store(module->db), &user, error, sizeof(error));
	explicit_bzero(hash, sizeof(hash));
	if (ret < 0) {
		/* -EEXIST: a concurrent first login made it; verify normally next time */
		e_error(authdb_event(request), "mailbag: auto-create of %s failed: %s", address, error);
		return FALSE;
	}
	e_info(authdb_event(request), "mailbag: account %s created on its first login", address);
	return TRUE;
}

/* What a login's answer needs once its password is checked (maybe by an
   auth-worker, later): the record's facts, no secret. */
struct login_facts {
	verify_plain_callback_t *callback;
	struct login_origin origin;
	bool enabled;
	bool frozen;                   /* for a move, and not doveadm's */
	char move_to[MB_NODE_NAME_MAX + 1];
	char node[MB_NODE_NAME_MAX + 1];
};

static void login_facts_of(struct auth_request *request, const struct mb_user *user,
			   struct login_facts *facts)
{
	facts->enabled = user->enabled;
	facts->frozen = mb_user_frozen(user, (int64_t)time(NULL)) &&
		strcmp(request_service(request), "doveadm") != 0;
	memcpy(facts->move_to, user->move.to, sizeof(facts->move_to));
	memcpy(facts->node, user->node, sizeof(facts->node));
}

/* login_verified - the answer to a login whose password was checked:
   counted for lock-out, then refused (wrong password, disabled, frozen),
   proxied to the mailbox's node or accepted */
static void login_verified(struct auth_request *request, int result, void *context)
{
	struct login_facts *facts = context;
	struct mailbag_passdb_module *module =
		(struct mailbag_passdb_module *)request->passdb->passdb;
	const char *error;

	/* the context may have been re-read while a worker verified */
	if (result < 0 || mailbag_db_ready(module->db, &error) < 0) {
		if (result >= 0)
			e_error(authdb_event(request), "mailbag: %s", error);
		facts->callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
	lockout_count(request, &facts->origin, result > 0);
	if (result == 0) {
		facts->callback(PASSDB_RESULT_PASSWORD_MISMATCH, request);
		return;
	}
	if (!facts->enabled) {
		e_info(authdb_event(request), "mailbag: account is disabled");
		facts->callback(PASSDB_RESULT_USER_DISABLED, request);
		return;
	}
	if (facts->frozen) {
		e_info(authdb_event(request), "mailbag: mailbox being moved to node %s; temporary failure",
		       facts->move_to);
		facts->callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
	/* only a verified login learns where its mailbox is */
	struct mb_node_route route;
	switch (route_request(request, module->db, facts->node, MB_NODE_LOOKUP_PASSDB, &route)) {
	case MB_NODE_TEMPFAIL:
		facts->callback(PASSDB_RESULT_INTERNAL_FAILURE, request);
		return;
	case MB_NODE_PROXY:
		set_proxy_fields(request, &route);
		break;
	case MB_NODE_SERVE_HERE:
		break;
	}
	facts->callback(PASSDB_RESULT_OK, request);
}

static void mailbag_verify_plain(struct auth_request *request, const char *password,
				 verify_plain_callback_t *callback)
{
	struct login_facts *facts = p_new(request->pool, struct login_facts, 1);
	struct mailbag_passdb_module *module =
		(struct mailbag_passdb_module *)request->passdb->passdb;
	const char *crypted, *scheme;
	const struct mb_user *user;
	bool failed;

	/* a locked-out address or account gets the answer of a wrong
	   password (and Dovecot's same failure delay), unchecked */
	facts->callback = callback;
	login_origin(request, &facts->origin);
	if (lockout_refuses(request, &facts->origin, &failed)) {
		if (!failed)
			lockout_count(request, &facts->origin, FALSE);
		callback(failed ? PASSDB_RESULT_INTERNAL_FAILURE : PASSDB_RESULT_PASSWORD_MISMATCH,
			 request);
		return;
	}
	enum passdb_result result = passdb_user(request, &user);
	if (result == PASSDB_RESULT_USER_UNKNOWN && auto_create(request, password)) {
		callback(PASSDB_RESULT_OK, request);
		return;
	}
	if (result != PASSDB_RESULT_OK) {
		if (result == PASSDB_RESULT_USER_UNKNOWN)
			lockout_count(request, &facts->origin, FALSE);
		callback(result, request);
		return;
	}
	set_password_field(request, user, &crypted, &scheme);
	login_facts_of(request, user, facts);
	/* the main password (unless app passwords only), then each app
	   password: revocable per-device passwords, hashed by mailbag */
	mailbag_login_verify(request, module->db, user, password, login_verified, facts);
}

static void mailbag_lookup_credentials(struct auth_request *request,
				       lookup_credentials_callback_t *callback)
{
	const char *crypted, *scheme;
	const struct mb_user *user;
	enum passdb_result result = passdb_user(request, &user);

	if (result == PASSDB_RESULT_OK && !user->enabled) {
		result = PASSDB_RESULT_USER_DISABLED;
	} else if (result == PASSDB_RESULT_OK && frozen_for_move(request, user)) {
		result = PASSDB_RESULT_INTERNAL_FAILURE;
	} else if (result == PASSDB_RESULT_OK && user->app_passwords_only) {
		/* the main hash must not log in, and app passwords are only
		   checked as plain passwords: no credentials to hand out */
		result = PASSDB_RESULT_SCHEME_NOT_AVAILABLE;
	}
	if (result != PASSDB_RESULT_OK) {
		callback(result, NULL, 0, request);
		return;
	}
	/* Dovecot compares the credentials after this answer, and uses
	   the proxy fields only when they match */
	struct mailbag_passdb_module *module =
		(struct mailbag_passdb_module *)request->passdb->passdb;
	struct mb_node_route route;
	if (route_request(request, module->db, user->node, MB_NODE_LOOKUP_PASSDB, &route) ==
	    MB_NODE_TEMPFAIL) {
		callback(PASSDB_RESULT_INTERNAL_FAILURE, NULL, 0, request);
		return;
	}
	if (route.answer == MB_NODE_PROXY)
		set_proxy_fields(request, &route);
	set_password_field(request, user, &crypted, &scheme);
	passdb_handle_credentials(PASSDB_RESULT_OK, crypted, scheme, callback, request);
}

#if DOVECOT_PREREQ(2, 4, 0)
static int mailbag_passdb_preinit(pool_t pool, struct event *event,
				  struct passdb_module **module_r, const char **error_r)
{
	struct mailbag_passdb_module *module = p_new(pool, struct mailbag_passdb_module, 1);

	if (mailbag_db_get_event(event, &module->db, error_r) < 0)
		return -1;
	/* Dovecot then sets default_pass_scheme from
	   passdb_default_password_scheme (CRYPT for driver mailbag, see
	   mailbag-settings.c) and blocking from use_worker; init makes
	   Redis lookups blocking */
	*module_r = &module->module;
	return 0;
}

/* mailbag_passdb_init - Redis lookups run in auth-worker processes,
   whatever use_worker says (as Dovecot's sql driver does) */
static void mailbag_passdb_init(struct passdb_module *_module)
{
	struct mailbag_passdb_module *module = (struct mailbag_passdb_module *)_module;

	if (!module->module.blocking)
		module->module.blocking = mailbag_db_blocking(module->db);
}
#else
static struct passdb_module *mailbag_passdb_preinit(pool_t pool, const char *args)
{
	struct mailbag_passdb_module *module = p_new(pool, struct mailbag_passdb_module, 1);

	module->db = mailbag_db_get_args(args);
	module->module.default_pass_scheme = "CRYPT";
	module->module.blocking = mailbag_db_blocking(module->db);
	return &module->module;
}
#endif

static void mailbag_passdb_deinit(struct passdb_module *_module)
{
	struct mailbag_passdb_module *module = (struct mailbag_passdb_module *)_module;

	mailbag_db_unref(&module->db);
}

static void mailbag_userdb_lookup(struct auth_request *request, userdb_callback_t *callback)
{
	struct mailbag_userdb_module *module =
		(struct mailbag_userdb_module *)request->userdb->userdb;
	const struct mb_user *user;
	int ret = lookup_user(module->db, request, &user);

	if (ret <= 0) {
		callback(ret < 0 ? USERDB_RESULT_INTERNAL_FAILURE : USERDB_RESULT_USER_UNKNOWN, request);
		return;
	}
	/* a mailbox on another node is not opened here: a misrouted
	   delivery stays queued, no session sees an empty mailbox */
	struct mb_node_route route;
	if (frozen_for_move(request, user) ||
	    route_request(request, module->db, user->node, MB_NODE_LOOKUP_USERDB, &route) == MB_NODE_TEMPFAIL) {
		callback(USERDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
	const struct mb_context *ctx = mailbag_db_context(module->db);
	struct mb_limits limits;
	char error[512];
	if (mailbag_db_limits(module->db, user, &limits, error, sizeof(error)) < 0) {
		e_error(authdb_event(request), "mailbag: store lookup failed: %s", error);
		callback(USERDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
	auth_request_set_userdb_field(request, "uid", dec2str(ctx->vmail_uid));
	auth_request_set_userdb_field(request, "gid", dec2str(ctx->vmail_gid));
	auth_request_set_userdb_field(request, "home", user->home);
#if DOVECOT_PREREQ(2, 4, 0)
	/* userdb fields are settings overrides; ~/ is the home above */
	auth_request_set_userdb_field(request, "mail_driver", "maildir");
	auth_request_set_userdb_field(request, "mail_path", "~/Maildir");
	/* the user's own quota, else the domain's, else the server's */
	if (limits.quota_bytes > 0) {
		auth_request_set_userdb_field(request, "quota_storage_size",
			t_strdup_printf("%llu", (unsigned long long)limits.quota_bytes));
	}
#else
	auth_request_set_userdb_field(request, "mail", "maildir:~/Maildir");
	/* the user's own quota, else the domain's, else the server's */
	if (limits.quota_bytes > 0) {
		auth_request_set_userdb_field(request, "quota_rule",
			t_strdup_printf("*:bytes=%llu", (unsigned long long)limits.quota_bytes));
	}
#endif
#if DOVECOT_PREREQ(2, 4, 0)
	/* the block's own fields { } (userdb_fields) last, as Dovecot's
	   drivers do: they override what the store said */
	if (auth_request_set_userdb_fields(request, NULL) < 0) {
		callback(USERDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
#endif
	callback(USERDB_RESULT_OK, request);
}

#if DOVECOT_PREREQ(2, 4, 0)
static int mailbag_userdb_preinit(pool_t pool, struct event *event,
				  struct userdb_module **module_r, const char **error_r)
{
	struct mailbag_userdb_module *module = p_new(pool, struct mailbag_userdb_module, 1);

	if (mailbag_db_get_event(event, &module->db, error_r) < 0)
		return -1;
	*module_r = &module->module;
	return 0;
}

/* mailbag_userdb_init - as mailbag_passdb_init */
static void mailbag_userdb_init(struct userdb_module *_module)
{
	struct mailbag_userdb_module *module = (struct mailbag_userdb_module *)_module;

	if (!module->module.blocking)
		module->module.blocking = mailbag_db_blocking(module->db);
}
#else
static struct userdb_module *mailbag_userdb_preinit(pool_t pool, const char *args)
{
	struct mailbag_userdb_module *module = p_new(pool, struct mailbag_userdb_module, 1);

	module->db = mailbag_db_get_args(args);
	module->module.blocking = mailbag_db_blocking(module->db);
	return &module->module;
}
#endif

static void mailbag_userdb_deinit(struct userdb_module *_module)
{
	struct mailbag_userdb_module *module = (struct mailbag_userdb_module *)_module;

	mailbag_db_unref(&module->db);
}

static struct passdb_module_interface passdb_mailbag = {
	.name = "mailbag",
	.preinit = mailbag_passdb_preinit,
#if DOVECOT_PREREQ(2, 4, 0)
	.init = mailbag_passdb_init,
#endif
	.deinit = mailbag_passdb_deinit,
	.verify_plain = mailbag_verify_plain,
	.lookup_credentials = mailbag_lookup_credentials,
};

static struct userdb_module_interface userdb_mailbag = {
	.name = "mailbag",
	.preinit = mailbag_userdb_preinit,
#if DOVECOT_PREREQ(2, 4, 0)
	.init = mailbag_userdb_init,
#endif
	.deinit = mailbag_userdb_deinit,
	.lookup = mailbag_userdb_lookup,
};

void authdb_mailbag_init(void)
{
	const char *error;

	/* libsodium verifies app passwords */
	if (mb_password_init(&error) < 0)
		i_fatal("mailbag: %s", error);
	passdb_register_module(&passdb_mailbag);
	userdb_register_module(&userdb_mailbag);
}

void authdb_mailbag_deinit(void)
{
	passdb_unregister_module(&passdb_mailbag);
	userdb_unregister_module(&userdb_mailbag);
}
