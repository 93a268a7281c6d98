/* user-move.c - `mailbag user move ADDRESS NODE`: a mailbox moved live
 *
 * SUMMARY
 *	Copies the mailbox to the target node with Dovecot's dsync, then
 *	points the user at it in one store write. The move's progress is
 *	the user record's "move" (store.h, struct mb_user_move), so every
 *	node's mailbag-lmtpd and Dovecot passdb see a freeze at once, and a
 *	run that dies is taken up again by the next from where it stopped:
 *
 *	copy	`doveadm backup` from here to the target, the mailbox live:
 *		the target's copy is made equal to this one (one-way;
 *		whatever the target held of the user, say from an earlier
 *		move, is replaced). Nothing writes the target's copy before
 *		the switch, so backing up again is always safe.
 *	freeze	the record says "frozen until now + move.freeze":
 *		deliveries get 451 (Postfix keeps them queued), logins and
 *		Dovecot LMTP's userdb lookups a temporary failure; doveadm
 *		is let through. Open sessions here are kicked, move.grace
 *		seconds let deliveries under way finish, and a second
 *		`doveadm backup` catches up. If it fails, the freeze is
 *		lifted and the move is back at copy: the mailbox stays here.
 *	switch	one write: node = target, phase final, the freeze kept
 *		(its lease renewed). Dovecot's LMTP here now refuses the
 *		user (temporarily: her node is another), so a delivery that
 *		passed mailbag-lmtpd before the freeze but reaches this
 *		Dovecot only now is deferred and goes to the target later.
 *	final	sessions that slipped in here are kicked, move.grace lets
 *		a delivery already being saved here land, and a two-way
 *		`doveadm sync` brings what reached this copy after the
 *		catch-up to the target. Both copies are still (the freeze
 *		holds everything else back), so the sync has no clash to
 *		resolve; were the lease to run out (the command died), the
 *		target takes mail again and the next run's two-way sync
 *		merges both sides: dsync matches messages by GUID, keeps
 *		flags, and never drops one. backup is never run after the
 *		switch: it would delete on the target what arrived there.
 *		Then the freeze is lifted: mail and logins go to the target.
 *	done	the old copy is kept until `--purge`, which expunges it here
 *		with doveadm and forgets the move.
 *
 *	A freeze whose command died ends by itself when its lease runs
 *	out; before the switch that is safe (this copy is still the one
 *	served, and the next run freezes and backs up again), and a freeze
 *	that outlasts a slow catch-up only lets mail arrive here, which the
 *	final sync takes along.
 *
 *	The command runs on the node the mailbox leaves (its doveadm holds
 *	the source; the target is reached at tcp:HOST:DOVEADM_PORT of the
 *	context's nodes, whose doveadm server runs dsync's other side).
 */
#include "user-move.h"
#include "doveadm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

struct move_run {
	struct cli *cli;
	const char *address;
	char destination[MB_DOMAIN_MAX + 32]; /* "tcp:HOST:PORT" */
	cli_move_progress_fn *progress;
	void *context;
};

static void say(struct move_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct move_run *run, const char *fmt, ...)
{
	char line[1024];
	va_list args;

	va_start(args, fmt);
	vsnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	if (run->progress != NULL)
		run->progress(line, run->context);
}

/* source_node - the node the record says holds the mailbox */
static const char *source_node(const struct cli *cli, const struct mb_user *user)
{
	return mb_context_node_is_local(cli->ctx, user->node) ? cli->ctx->node : user->node;
}

typedef void move_change_fn(struct mb_user *user, const void *arg);

/* write_change - read the record afresh, change it, write it: the
   user's other fields (a password changed meanwhile) are kept */
static int write_change(struct move_run *run, move_change_fn *change, const void *arg)
{
	struct mb_user user;
	char error[512];
	int ret = mb_store_user_get(run->cli->store, run->address, &user, error, sizeof(error));

	if (ret <= 0)
		return cli_fail(run->cli, EX_TEMPFAIL, "%s", ret < 0 ? error : "the user was deleted during the move");
	change(&user, arg);
	ret = mb_store_user_update(run->cli->store, &user, error, sizeof(error));
	mb_user_clear(&user);
	return ret < 0 ? cli_fail(run->cli, cli_store_exit_code(ret), "%s (run the command again)", error) : EX_OK;
}

static void set_phase(struct mb_user *user, const void *arg)
{
	const struct mb_user_move *move = arg;

	user->move = *move;
}

/* switch_node - the one write that moves the user: node and phase */
static void switch_node(struct mb_user *user, const void *arg)
{
	const struct mb_user_move *move = arg;

	snprintf(user->node, sizeof(user->node), "%s", move->to);
	user->move = *move;
}

static int set_move(struct move_run *run, struct mb_user_move *move, enum mb_move_phase phase, int64_t until)
{
	move->phase = phase;
	move->until = until;
	return write_change(run, set_phase, move);
}

/* dsync's exit code when the mailbox changed while it ran: it did sync,
   but should be run again (the target takes deliveries after the switch) */
#define DSYNC_CHANGED_DURING_SYNC 2
#define DSYNC_TRIES 5

/* dsync - `doveadm backup|sync -u ADDRESS -T 60 tcp:HOST:PORT`, again
   while the mailbox changed under it; 0 or -1 */
static int dsync(struct move_run *run, const char *verb)
{
	const char *args[] = { verb, "-u", run->address, "-T", "60", run->destination, NULL };
	struct mb_error_text error;
	int ret = DSYNC_CHANGED_DURING_SYNC;

	for (int i = 0; i < DSYNC_TRIES && ret == DSYNC_CHANGED_DURING_SYNC; i++) {
		if (i > 0)
			say(run, "%s: the mailbox changed during the sync; again (%d of %d)", verb, i + 1, DSYNC_TRIES);
		ret = cli_doveadm_run(run->cli->ctx->move.dovecot_config, args, NULL, &error);
	}
	if (ret < 0)
		return cli_fail(run->cli, EX_TEMPFAIL, "%s", error.text), -1;
	if (ret != 0) {
		cli_fail(run->cli, EX_TEMPFAIL, "doveadm %s -u %s %s failed (exit %d; its reason is above)",
			 verb, run->address, run->destination, ret);
		return -1;
	}
	return 0;
}

/* kick - close the user's sessions on this node (a failure is told,
   not fatal: logins are refused anyway and the final sync merges) */
static void kick(struct move_run *run)
{
	const char *args[] = { "kick", run->address, NULL };
	struct mb_error_text error;
	char *output = NULL;
	int ret = cli_doveadm_run(run->cli->ctx->move.dovecot_config, args, &output, &error);

	if (ret < 0)
		say(run, "warning: could not kick the sessions of %s: %s", run->address, error.text);
	else if (output != NULL && output[0] != '\0') {
		for (char *nl = strchr(output, '\n'); nl != NULL; nl = strchr(nl, '\n'))
			*nl = ' ';
		say(run, "kick: %s", output);
	}
	free(output);
}

static void wait_grace(struct move_run *run)
{
	if (run->cli->ctx->move.grace > 0)
		sleep((unsigned)run->cli->ctx->move.grace);
}

/* run_copy_and_freeze - copy, freeze, catch up; EX_OK with the move at
   the switch, else the exit code (the mailbox still served here) */
static int run_copy_and_freeze(struct move_run *run, struct mb_user_move *move)
{
	if (move->phase == MB_MOVE_COPY) {
		say(run, "copy: doveadm backup to node %s (%s)", move->to, run->destination);
		if (dsync(run, "backup") < 0)
			return EX_TEMPFAIL;
	}
	int64_t until = (int64_t)time(NULL) + run->cli->ctx->move.freeze;
	int ret = set_move(run, move, MB_MOVE_FREEZE, until);
	if (ret != EX_OK)
		return ret;
	say(run, "freeze: deliveries deferred, logins refused for up to %llds", (long long)run->cli->ctx->move.freeze);
	kick(run);
	wait_grace(run);
	say(run, "freeze: doveadm backup to node %s (catch-up)", move->to);
	if (dsync(run, "backup") < 0) {
		/* the target did not take it: serve the mailbox here again */
		if (set_move(run, move, MB_MOVE_COPY, 0) == EX_OK)
			say(run, "freeze lifted: %s stays on node %s; run the command again", run->address, move->from);
		return EX_TEMPFAIL;
	}
	return EX_OK;
}

/* run_switch_and_final - node = target, still frozen, then the last
   two-way sync, then the freeze lifted */
static int run_switch_and_final(struct move_run *run, struct mb_user_move *move)
{
	int64_t until = (int64_t)time(NULL) + run->cli->ctx->move.freeze;
	int ret;

	if (move->phase != MB_MOVE_FINAL) {
		move->phase = MB_MOVE_FINAL;
		move->until = until;
		if ((ret = write_change(run, switch_node, move)) != EX_OK)
			return ret;
		say(run, "switch: %s is on node %s now (still frozen for the last sync)", run->address, move->to);
	} else if ((ret = set_move(run, move, MB_MOVE_FINAL, until)) != EX_OK) {
		return ret;
	}
	kick(run);
	wait_grace(run);
	say(run, "final: doveadm sync with node %s (two-way, what reached node %s last)", move->to, move->from);
	if (dsync(run, "sync") < 0) {
		say(run, "%s is on node %s; mail that reached node %s last may not be there yet: run the command again",
		    run->address, move->to, move->from);
		return EX_TEMPFAIL;
	}
	ret = set_move(run, move, MB_MOVE_DONE, 0);
	if (ret == EX_OK)
		say(run, "done: %s moved to node %s; the old copy on node %s is kept until --purge",
		    run->address, move->to, move->from);
	return ret;
}

/* purge_old_copy - expunge every message here and delete the folders
   but INBOX (doveadm, this node's copy), then forget the move */
static int purge_old_copy(struct move_run *run, struct mb_user_move *move)
{
	const char *expunge[] = { "expunge", "-u", run->address, "mailbox", "*", "all", NULL };
	const char *list[] = { "mailbox", "list", "-u", run->address, NULL };
	const char *config = run->cli->ctx->move.dovecot_config;
	struct mb_error_text error;
	char *output = NULL;

	say(run, "purge: expunging the old copy on node %s", move->from);
	int ret = cli_doveadm_run(config, expunge, NULL, &error);
	if (ret == 0)
		ret = cli_doveadm_run(config, list, &output, &error);
	if (ret < 0)
		return cli_fail(run->cli, EX_TEMPFAIL, "%s", error.text);
	if (ret != 0) {
		free(output);
		return cli_fail(run->cli, EX_TEMPFAIL, "doveadm failed on the old copy of %s (exit %d; see above)",
				run->address, ret);
	}
	/* children come after their parents in the list: delete from the end */
	char *lines[1024], *save = NULL;
	size_t count = 0;
	for (char *line = strtok_r(output, "\n", &save); line != NULL && count < 1024;
	     line = strtok_r(NULL, "\n", &save))
		lines[count++] = line;
	while (count > 0) {
		const char *name = lines[--count];
		if (strcmp(name, "INBOX") == 0)
			continue;
		const char *del[] = { "mailbox", "delete", "-u", run->address, "-s", name, NULL };
		if (cli_doveadm_run(config, del, NULL, &error) != 0)
			say(run, "warning: could not delete folder %s of the old copy", name);
	}
	free(output);
	ret = set_move(run, move, MB_MOVE_NONE, 0);
	if (ret == EX_OK)
		say(run, "purged: the old copy of %s on node %s is gone", run->address, move->from);
	return ret;
}

/* node_destination - tcp:HOST:PORT of target's doveadm server */
static int node_destination(struct move_run *run, const char *target)
{
	const struct mb_node *node = mb_context_node_entry(run->cli->ctx, target);

	if (node == NULL) {
		return cli_fail(run->cli, EX_DATAERR, "node '%s' is not in the context's nodes "
				"(a move needs its host and doveadm_port)", target);
	}
	if (node->host[0] == '\0' || node->doveadm_port == 0)
		return cli_fail(run->cli, EX_CONFIG, "node '%s' has no host or doveadm_port in the context's nodes", target);
	snprintf(run->destination, sizeof(run->destination), "tcp:%s:%u", node->host, node->doveadm_port);
	return EX_OK;
}

/* plan - the move to go on with: a new one, or the one under way;
   EX_OK with *move_r (phase NONE: nothing to do), else the exit code */
static int plan(struct move_run *run, const struct mb_user *user, const char *target,
		const struct cli_move_options *o, struct mb_user_move *move_r)
{
	const char *here = run->cli->ctx->node;

	*move_r = user->move;
	if (move_r->phase == MB_MOVE_DONE && (o->purge || strcmp(move_r->to, target) == 0)) {
		if (strcmp(move_r->to, target) != 0)
			return cli_fail(run->cli, EX_USAGE, "%s was moved to node %s, not %s", user->address,
					move_r->to, target);
		if (!o->purge) {
			say(run, "%s is on node %s already; the old copy on node %s is kept until --purge",
			    user->address, move_r->to, move_r->from);
			move_r->phase = MB_MOVE_NONE;
		} else if (strcmp(here, move_r->from) != 0) {
			return cli_fail(run->cli, EX_USAGE, "the old copy of %s is on node %s: run --purge there "
					"(this is node %s)", user->address, move_r->from, here);
		} else if (mb_context_node_is_local(run->cli->ctx, user->node)) {
			/* her node was set back here by hand: this copy is the one served */
			return cli_fail(run->cli, EX_USAGE, "%s's record names this node (%s): the copy here is the "
					"one in use, not purged", user->address, here);
		}
		return EX_OK;
	}
	if (move_r->phase != MB_MOVE_NONE && move_r->phase != MB_MOVE_DONE) {
		if (strcmp(move_r->to, target) != 0) {
			return cli_fail(run->cli, EX_USAGE, "a move of %s to node %s is under way (%s); finish it with "
					"'mailbag user move %s %s' or give it up with --cancel", user->address,
					move_r->to, mb_move_phase_name(move_r->phase), user->address, move_r->to);
		}
	} else {
		const char *source = source_node(run->cli, user);
		if (o->purge && strcmp(source, target) == 0)
			return cli_fail(run->cli, EX_USAGE, "%s has no old copy to purge (no move was made)", user->address);
		if (strcmp(source, target) == 0) {
			say(run, "%s is on node %s already; nothing to move", user->address, target);
			move_r->phase = MB_MOVE_NONE;
			return EX_OK;
		}
		*move_r = (struct mb_user_move){ .phase = MB_MOVE_COPY, .started = (int64_t)time(NULL) };
		snprintf(move_r->from, sizeof(move_r->from), "%s", source);
		snprintf(move_r->to, sizeof(move_r->to), "%s", target);
	}
	if (strcmp(here, move_r->from) != 0) {
		return cli_fail(run->cli, EX_USAGE, "the mailbox of %s is on node %s: run 'mailbag user move' there "
				"(this is node %s)", user->address, move_r->from, here);
	}
	return EX_OK;
}

/* cancel - give up a move not yet switched */
static int cancel(struct move_run *run, struct mb_user_move *move)
{
	if (move->phase == MB_MOVE_NONE || move->phase == MB_MOVE_DONE)
		return cli_fail(run->cli, EX_USAGE, "no move of %s is under way", run->address);
	if (move->phase == MB_MOVE_FINAL) {
		return cli_fail(run->cli, EX_USAGE, "%s is on node %s already; finish the move by running it again",
				run->address, move->to);
	}
	int ret = set_move(run, move, MB_MOVE_NONE, 0);
	if (ret == EX_OK)
		say(run, "cancelled: %s stays on node %s (the partial copy on node %s is left)", run->address,
		    move->from, move->to);
	return ret;
}

int cli_user_move(struct cli *cli, const char *address, const char *target,
		  const struct cli_move_options *o, cli_move_progress_fn *progress, void *context)
{
	struct move_run run = { .cli = cli, .address = address, .progress = progress, .context = context };
	struct mb_error_text error;
	struct mb_user_move move;
	struct mb_user user;
	char store_error[512];

	if (cli->ctx->node[0] == '\0')
		return cli_fail(cli, EX_CONFIG, "this node has no name (context 'node'): a move needs the node map "
				"('node' and 'nodes' in %s)", cli->context_path != NULL ? cli->context_path : "the context");
	if (!mb_node_name_valid(target))
		return cli_fail(cli, EX_USAGE, "'%.64s' is not a node name (1 to 32 of a-z 0-9 . _ -)", target);
	int ret = mb_store_user_get(cli->store, address, &user, store_error, sizeof(store_error));
	if (ret < 0)
		return cli_fail(cli, EX_TEMPFAIL, "%s", store_error);
	if (ret == 0)
		return cli_fail(cli, EX_NOUSER, "no such user %s", address);
	if (o->cancel) {
		move = user.move;
		mb_user_clear(&user);
		return cancel(&run, &move);
	}
	ret = plan(&run, &user, target, o, &move);
	bool starting = move.phase == MB_MOVE_COPY &&
		(user.move.phase == MB_MOVE_NONE || user.move.phase == MB_MOVE_DONE);
	mb_user_clear(&user);
	if (ret != EX_OK || move.phase == MB_MOVE_NONE)
		return ret;
	if ((ret = node_destination(&run, move.to)) != EX_OK)
		return ret;
	if (cli_doveadm_password_check(cli->ctx->move.doveadm_password_file, &error) < 0)
		return cli_fail(cli, EX_CONFIG, "%s", error.text);
	if (move.phase == MB_MOVE_DONE)
		return purge_old_copy(&run, &move);
	if (starting && (ret = set_move(&run, &move, MB_MOVE_COPY, 0)) != EX_OK)
		return ret;
	if (move.phase == MB_MOVE_COPY || move.phase == MB_MOVE_FREEZE) {
		if ((ret = run_copy_and_freeze(&run, &move)) != EX_OK)
			return ret;
	}
	ret = run_switch_and_final(&run, &move);
	if (ret == EX_OK && o->purge)
		ret = purge_old_copy(&run, &move);
	return ret;
}
