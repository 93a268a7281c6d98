"""tests/boot/check.py - the checks of the booted test, run inside the
booted Debian system (tests/boot/run enters it), as a user's clients and
as its administrator would: SMTP on 25 and submission on 587, IMAP on 143,
systemctl, /proc. Each subcommand prints what it saw and exits non-zero
with the reason when a check fails.

  check.py snapshot FILE          postconf -n and doveconf -n into FILE
  check.py same FILE              ... and fail unless they are as in FILE
  check.py mail PASSWORD TAG      one message in on 25, one submitted on
                                  587 (signed), both read over IMAP, the
                                  signature verified with dkimpy against
                                  the records `mailbag dkim show` prints
  check.py units                  every mailbag daemon active, as its own
                                  user, no capabilities left, the bounding
                                  set of its unit, no new privileges, and
                                  its file system read-only outside its
                                  unit's ReadWritePaths
  check.py kill PASSWORD UNIT     the unit's main process killed (SIGKILL)
                                  while mail arrives: it comes back, and
                                  every accepted message is delivered once
  check.py reload                 a context change applied by systemctl
                                  reload (checks.max_recipients_per_message)
  check.py timers                 both timers scheduled; their services
                                  run by hand succeed under their sandbox
  check.py renew-hook             certbot's deploy hook (tls apply, Postfix
                                  and Dovecot reloaded) run inside
                                  mailbag-tls-renew.service's sandbox
  check.py dedupe                 the compiled dedupe script keeps its 5 days
                                  (Pigeonhole cuts a :seconds past
                                  sieve_duplicate_max_period when compiling)
  check.py security               systemd-analyze security of each unit
  check.py order                  after a boot: each daemon was running
                                  before Postfix started, mailbag-lmtpd
                                  started after Dovecot was ready

Only the Python standard library and dkimpy (python3-dkim)."""

import email.utils
import imaplib
import json
import os
import re
import smtplib
import ssl
import subprocess
import sys
import time

DOMAIN = "example.test"
USER = "john@" + DOMAIN
DAEMONS = ("mailbag-policyd", "mailbag-lmtpd", "mailbag-milter")
CONTEXT = "/etc/mailbag/context.json"


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def run(*argv, ok=True):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if ok and proc.returncode != 0:
        raise CheckFailed("%s exited %d:\n%s" % (" ".join(argv), proc.returncode, proc.stdout))
    return proc


def unit_property(unit, name):
    return run("systemctl", "show", "-p", name, "--value", unit).stdout.strip()


def journal(*units, lines=60):
    argv = ["journalctl", "--no-pager", "-n", str(lines)]
    for unit in units:
        argv += ["-u", unit]
    return run(*argv, ok=False).stdout


# --- mail as users send and read it ------------------------------------------

def unverified():
    # the self-signed certificate setup makes until a real one is named
    return ssl._create_unverified_context()


def message(sender, rcpt, message_id, subject):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n"
            "Date: %s\r\n\r\nSent by the booted test.\r\n"
            % (sender, rcpt, subject, message_id, email.utils.formatdate())).encode()


def smtp_in(rcpts, message_id, sender="someone@example.net", retry_for=90):
    """Mail from outside on port 25; a 4xx (a part restarting) is tried
    again as a sending server would. Returns Postfix's queue id."""
    rcpts = [rcpts] if isinstance(rcpts, str) else rcpts
    deadline = time.time() + retry_for
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", 25, timeout=30) as s:
                s.ehlo("client.example.net")
                s.mail(sender)
                for rcpt in rcpts:
                    code, reply = s.rcpt(rcpt)
                    if code != 250:
                        raise smtplib.SMTPRecipientsRefused({rcpt: (code, reply)})
                code, reply = s.data(message(sender, rcpts[0], message_id, "inbound"))
                if code != 250:
                    raise smtplib.SMTPDataError(code, reply)
                return queue_id(reply)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused, OSError) as e:
            temporary = isinstance(e, OSError) or getattr(e, "smtp_code", 0) // 100 == 4 or (
                isinstance(e, smtplib.SMTPRecipientsRefused)
                and all(code // 100 == 4 for code, _ in e.recipients.values()))
            if not temporary or time.time() > deadline:
                raise CheckFailed("port 25 refused %s: %r" % (message_id, e))
            time.sleep(1)


def queue_id(reply):
    found = re.search(rb"queued as ([0-9A-Za-z]+)", reply)
    check(found, "no queue id in %r" % reply)
    return found.group(1).decode()


def submit(password, rcpt, message_id):
    with smtplib.SMTP("127.0.0.1", 587, timeout=30) as s:
        s.starttls(context=unverified())
        s.login(USER, password)
        s.mail(USER)
        code, reply = s.rcpt(rcpt)
        check(code == 250, "submission refused RCPT %s: %d %r" % (rcpt, code, reply))
        code, reply = s.data(message(USER, rcpt, message_id, "submitted"))
        check(code == 250, "submission refused DATA: %d %r" % (code, reply))
        return queue_id(reply)


def imap_messages(password):
    """Every message in john's INBOX, read over IMAP with STARTTLS."""
    imap = imaplib.IMAP4("127.0.0.1", 143, timeout=30)
    try:
        imap.starttls(ssl_context=unverified())
        imap.login(USER, password)
        imap.select("INBOX", readonly=True)
        _, data = imap.uid("SEARCH", None, "ALL")
        found = []
        for uid in data[0].split():
            _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            found.append(parts[0][1])
        return found
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def message_ids(raws):
    ids = []
    for raw in raws:
        found = re.search(rb"^Message-ID: *<([^>]*)>", raw, re.M | re.I)
        ids.append(found.group(1).decode() if found else None)
    return ids


def wait_in_inbox(password, wanted, timeout=120):
    """Wait until every Message-ID of wanted is in the INBOX; return the
    INBOX. Postfix's queue is flushed while waiting (a delivery deferred
    while a part was down is otherwise retried only minutes later)."""
    deadline = time.time() + timeout
    while True:
        raws = imap_messages(password)
        missing = set(wanted) - set(message_ids(raws))
        if not missing:
            return raws
        if time.time() > deadline:
            raise CheckFailed("not delivered after %d s: %s\nqueue:\n%s\nlog:\n%s"
                              % (timeout, sorted(missing)[:10], run("postqueue", "-p", ok=False).stdout,
                                 journal("postfix@-.service", *[d + ".service" for d in DAEMONS])))
        run("postqueue", "-f", ok=False)
        time.sleep(2)


def dkim_records():
    shown = json.loads(run("mailbag", "--json", "dkim", "show", DOMAIN).stdout)
    return {r["name"]: r["value"] for r in shown}


def verify_dkim(raw):
    import dkim
    records = dkim_records()

    def dns(name, timeout=5):
        value = records.get(name.decode().rstrip("."))
        return value.encode() if value is not None else None
    signatures = len(re.findall(rb"^DKIM-Signature:", raw, re.M | re.I))
    check(signatures > 0, "the submitted message has no DKIM-Signature:\n%s" % raw.decode(errors="replace")[:2000])
    for idx in range(signatures):
        check(dkim.DKIM(raw).verify(idx=idx, dnsfunc=dns), "DKIM signature %d does not verify" % idx)
    return signatures


def delivered_by_lmtpd(qid):
    """Postfix's own log line: QID went to mailbag-lmtpd's socket, sent."""
    deadline = time.time() + 30
    while time.time() < deadline:
        log = run("journalctl", "--no-pager", "-o", "cat", "-t", "postfix/lmtp", ok=False).stdout
        if re.search(r"^%s: to=.*relay=[^ ]*\[private/mailbag-lmtp\].*status=sent" % qid, log, re.M):
            return
        time.sleep(0.5)
    raise CheckFailed("Postfix did not deliver %s through private/mailbag-lmtp:\n%s" % (qid, log[-3000:]))


def cmd_mail(password, tag):
    inbound, submitted = tag + ".in@boot.test", tag + ".sub@boot.test"
    qid_in = smtp_in(USER, inbound)
    qid_sub = submit(password, USER, submitted)
    raws = wait_in_inbox(password, [inbound, submitted])
    for qid in (qid_in, qid_sub):
        delivered_by_lmtpd(qid)
    ids = message_ids(raws)
    check(ids.count(inbound) == 1 and ids.count(submitted) == 1, "delivered more than once: %s" % ids)
    signatures = verify_dkim(raws[ids.index(submitted)])
    print("mail: %s in on 25 and submitted on 587, delivered by mailbag-lmtpd, read over IMAP; %d DKIM signature(s) verify"
          % (tag, signatures))


# --- the units as systemd runs them --------------------------------------------

CAPABILITIES = {
    "cap_chown": 0, "cap_dac_override": 1, "cap_dac_read_search": 2, "cap_fowner": 3, "cap_fsetid": 4,
    "cap_kill": 5, "cap_setgid": 6, "cap_setuid": 7, "cap_setpcap": 8, "cap_net_bind_service": 10,
    "cap_net_admin": 12, "cap_net_raw": 13, "cap_ipc_lock": 14, "cap_sys_chroot": 18, "cap_sys_ptrace": 19,
    "cap_sys_admin": 21, "cap_sys_resource": 24, "cap_mknod": 27, "cap_audit_write": 29,
}


def proc_status(pid):
    fields = {}
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def bounding_mask(unit):
    mask = 0
    for name in unit_property(unit, "CapabilityBoundingSet").split():
        check(name in CAPABILITIES, "%s: capability %s not in the test's table" % (unit, name))
        mask |= 1 << CAPABILITIES[name]
    return mask


def writable_in(pid, path):
    """Can root, inside the daemon's mount namespace, create a file in PATH?"""
    probe = os.path.join(path, ".mailbag-boot-probe")
    proc = subprocess.run(["nsenter", "-t", str(pid), "-m", "sh", "-c", "touch %s && rm -f %s" % (probe, probe)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc.returncode == 0, proc.stdout.strip()


def cmd_units():
    import pwd
    daemon_user = json.load(open(CONTEXT)).get("daemon_user", "mailbag")
    account = pwd.getpwnam(daemon_user)
    for daemon in DAEMONS:
        unit = daemon + ".service"
        state = unit_property(unit, "ActiveState")
        check(state == "active", "%s is %s:\n%s" % (unit, state, journal(unit)))
        pid = unit_property(unit, "MainPID")
        status = proc_status(pid)
        uids, gids = status["Uid"].split(), status["Gid"].split()
        check(set(uids) == {str(account.pw_uid)}, "%s (pid %s) runs as uids %s, not %s" % (unit, pid, uids, daemon_user))
        check(set(gids) == {str(account.pw_gid)}, "%s (pid %s) runs as gids %s" % (unit, pid, gids))
        for kind in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            check(int(status[kind], 16) == 0, "%s keeps capabilities after dropping root: %s %s" % (unit, kind, status[kind]))
        bound = int(status["CapBnd"], 16)
        check(bound == bounding_mask(unit), "%s: bounding set %x is not its unit's %x" % (unit, bound, bounding_mask(unit)))
        check(status["NoNewPrivs"] == "1", "%s: NoNewPrivs is %s" % (unit, status["NoNewPrivs"]))
        allowed = unit_property(unit, "ReadWritePaths").split()
        for path in allowed:
            if os.path.isdir(path):
                ok, why = writable_in(pid, path)
                check(ok, "%s cannot write in %s, which its unit allows: %s" % (unit, path, why))
        for path in ("/etc/mailbag", "/etc/postfix", "/usr/local/sbin", "/var/vmail", "/root"):
            ok, _ = writable_in(pid, path)
            check(not ok, "%s could write in %s, outside its ReadWritePaths %s" % (unit, path, allowed))
        print("units: %s active, pid %s as %s, no capabilities, bounding set %x, read-only outside %s"
              % (unit, pid, daemon_user, bound, " ".join(allowed)))


def cmd_kill(password, daemon):
    """SIGKILL the daemon's main process while mail arrives: systemd brings
    it back (Restart=on-failure) and nothing accepted is lost or doubled."""
    unit = daemon + ".service"
    restarts = int(unit_property(unit, "NRestarts") or 0)
    old_pid = unit_property(unit, "MainPID")
    ids = ["kill-%s-%d@boot.test" % (daemon, i) for i in range(6)]
    smtp_in(USER, ids[0])
    smtp_in(USER, ids[1])
    run("systemctl", "kill", "-s", "KILL", unit)
    for message_id in ids[2:]:
        smtp_in(USER, message_id)
    deadline = time.time() + 30
    while not (unit_property(unit, "ActiveState") == "active"
               and int(unit_property(unit, "NRestarts") or 0) > restarts):
        check(time.time() < deadline, "%s did not come back after SIGKILL:\n%s" % (unit, journal(unit)))
        time.sleep(0.5)
    new_pid = unit_property(unit, "MainPID")
    check(new_pid != old_pid, "%s still has pid %s" % (unit, old_pid))
    raws = wait_in_inbox(password, ids)
    found = message_ids(raws)
    doubled = [m for m in ids if found.count(m) != 1]
    check(not doubled, "delivered more than once after %s was killed: %s" % (daemon, doubled))
    print("kill: %s killed (pid %s), restarted by systemd (pid %s); %d messages each delivered once"
          % (unit, old_pid, new_pid, len(ids)))


def write_context(text):
    """The context replaced whole, as an editor that renames would."""
    tmp = CONTEXT + ".boot-test"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, CONTEXT)


def two_recipients():
    """RCPT answers for two recipients of one message from outside."""
    with smtplib.SMTP("127.0.0.1", 25, timeout=30) as s:
        s.ehlo("client.example.net")
        s.mail("someone@example.net")
        codes = [s.rcpt(USER)[0], s.rcpt("second@" + DOMAIN)[0]]
        s.rset()
        return codes


def cmd_reload():
    original = open(CONTEXT).read()
    ctx = json.loads(original)
    run("mailbag", "alias", "add", "second@" + DOMAIN, USER, ok=False)  # kept from an earlier run: fine
    check(two_recipients() == [250, 250], "two recipients refused before the change")
    ctx.setdefault("checks", {})["max_recipients_per_message"] = 1
    write_context(json.dumps(ctx, indent=2))
    try:
        run("systemctl", "reload", "mailbag-policyd.service")
        deadline = time.time() + 10
        while two_recipients()[1] == 250:
            check(time.time() < deadline, "systemctl reload did not apply checks.max_recipients_per_message:\n%s"
                  % journal("mailbag-policyd.service"))
            time.sleep(0.5)
        refused = two_recipients()
    finally:
        write_context(original)
        run("systemctl", "reload", "mailbag-policyd.service")
    deadline = time.time() + 10
    while two_recipients() != [250, 250]:
        check(time.time() < deadline, "the restored context was not applied")
        time.sleep(0.5)
    print("reload: checks.max_recipients_per_message = 1 applied by systemctl reload (second RCPT %d), and undone" % refused[1])


def cmd_timers():
    listed = run("systemctl", "list-timers", "--all", "--no-pager").stdout
    for timer in ("mailbag-expire.timer", "mailbag-tls-renew.timer"):
        check(unit_property(timer, "ActiveState") == "active", "%s is not active:\n%s" % (timer, listed))
        check(re.search(r"^\S.*%s" % re.escape(timer), listed, re.M) and
              unit_property(timer, "NextElapseUSecRealtime") not in ("", "0", "n/a"),
              "%s has no next run:\n%s" % (timer, listed))
    for service in ("mailbag-expire.service", "mailbag-tls-renew.service"):
        proc = run("systemctl", "start", service, ok=False)
        result = unit_property(service, "Result")
        check(proc.returncode == 0 and result == "success",
              "%s run by hand: exit %d, result %s:\n%s\n%s" % (service, proc.returncode, result, proc.stdout, journal(service)))
    print("timers: mailbag-expire.timer and mailbag-tls-renew.timer scheduled; both services ran under their units")


def cmd_renew_hook():
    """What the renewal unit runs when certbot renewed a certificate: the
    deploy hook, under the unit's own sandbox (a drop-in replaces only its
    ExecStart). certbot itself is not installed here: without a hook run,
    the timer test covers only `mailbag tls status`."""
    unit = "mailbag-tls-renew.service"
    exec_start = re.search(r"^ExecStart=(\S+)", open("/etc/systemd/system/" + unit).read(), re.M).group(1)
    hook = os.path.join(os.path.dirname(exec_start), "mailbag-certbot-deploy-hook")
    check(os.access(hook, os.X_OK), "no deploy hook at %s" % hook)
    dropin = "/run/systemd/system/%s.d" % unit
    os.makedirs(dropin, exist_ok=True)
    with open(dropin + "/boot-test.conf", "w") as f:
        f.write("[Service]\nExecStart=\nExecStart=%s\n" % hook)
    since = time.strftime("%Y-%m-%d %H:%M:%S")
    time.sleep(1)
    try:
        run("systemctl", "daemon-reload")
        proc = run("systemctl", "start", unit, ok=False)
        result = unit_property(unit, "Result")
        check(proc.returncode == 0 and result == "success", "the deploy hook under %s: exit %d, result %s:\n%s"
              % (unit, proc.returncode, result, journal(unit)))
    finally:
        os.unlink(dropin + "/boot-test.conf")
        run("systemctl", "daemon-reload")
    log = run("journalctl", "--no-pager", "-o", "cat", "--since", since).stdout
    check(re.search(r"^reload -- version", log, re.M), "Postfix was not reloaded by the hook:\n%s" % log[-3000:])
    check("reloading configuration" in log, "Dovecot was not reloaded by the hook:\n%s" % log[-3000:])
    print("renew-hook: %s ran under %s's sandbox: tls apply, Postfix and Dovecot reloaded" % (os.path.basename(hook), unit))


def cmd_dedupe():
    wanted = re.search(r":seconds (\d+)", open("/etc/mailbag/mailbag-dedupe.sieve").read()).group(1)
    dump = run("sieve-dump", "/etc/mailbag/mailbag-dedupe.svbin").stdout
    found = re.search(r"seconds: NUM (\d+)", dump)
    check(found and found.group(1) == wanted, "the compiled dedupe script waits %s s, not the %s s of its source:\n%s"
          % (found.group(1) if found else "?", wanted, dump))
    print("dedupe: the compiled script keeps deliveries for %s s" % wanted)


def cmd_security():
    for unit in ("mailbag-policyd", "mailbag-lmtpd", "mailbag-milter", "mailbag-expire", "mailbag-tls-renew"):
        out = run("systemd-analyze", "security", "--no-pager", unit + ".service", ok=False).stdout
        found = re.search(r"Overall exposure level for \S+: ([0-9.]+ \S+)", out)
        print("security: %s.service %s" % (unit, found.group(1) if found else "(no score)"))


def monotonic(unit, name):
    return int(unit_property(unit, name + "TimestampMonotonic") or 0)


def cmd_order():
    # Debian 12 runs the default Postfix in postfix@-.service (postfix.service
    # is a oneshot around it), Debian 13 in postfix.service
    postfix = "postfix@-.service"
    if unit_property(postfix, "ActiveState") != "active":
        postfix = "postfix.service"
    postfix_start = monotonic(postfix, "InactiveExit")
    check(postfix_start > 0, "%s never started" % postfix)
    for daemon in DAEMONS:
        unit = daemon + ".service"
        up = monotonic(unit, "ActiveEnter")
        check(0 < up <= postfix_start, "%s was up at %d, after %s began starting at %d"
              % (unit, up, postfix, postfix_start))
    dovecot_up = monotonic("dovecot.service", "ActiveEnter")
    lmtpd_start = monotonic("mailbag-lmtpd.service", "InactiveExit")
    check(0 < dovecot_up <= lmtpd_start, "mailbag-lmtpd began at %d, before Dovecot was ready at %d"
          % (lmtpd_start, dovecot_up))
    print("order: mailbag-policyd, mailbag-lmtpd and mailbag-milter up before %s started; mailbag-lmtpd after Dovecot"
          % postfix)


def snapshot():
    return ("postconf -n:\n" + run("postconf", "-n").stdout +
            "\nmaster.cf:\n" + open("/etc/postfix/master.cf").read() +
            "\ndoveconf -n:\n" + run("doveconf", "-n").stdout)


def cmd_same(path):
    before = open(path).read()
    now = snapshot()
    if now != before:
        import difflib
        diff = "".join(difflib.unified_diff(before.splitlines(True), now.splitlines(True), "before setup", "after unsetup"))
        raise CheckFailed("Postfix's or Dovecot's configuration is not what it was before setup:\n" + diff)
    for unit in ("postfix.service", "dovecot.service"):
        check(unit_property(unit, "ActiveState") == "active", "%s is not running after unsetup:\n%s" % (unit, journal(unit)))
    for daemon in DAEMONS:
        check(unit_property(daemon + ".service", "ActiveState") != "active", "%s still runs after unsetup" % daemon)
    with smtplib.SMTP("127.0.0.1", 25, timeout=30) as s:
        code, banner = s.ehlo("client.example.net")
        check(code == 250, "Postfix does not answer after unsetup: %d" % code)
    print("unsetup: Postfix and Dovecot run with their configuration as before setup; no mailbag unit runs")


def main(argv):
    commands = {
        "snapshot": lambda path: open(path, "w").write(snapshot()),
        "same": cmd_same, "mail": cmd_mail, "units": cmd_units, "kill": cmd_kill,
        "reload": cmd_reload, "timers": cmd_timers, "security": cmd_security, "order": cmd_order, "dedupe": cmd_dedupe, "renew-hook": cmd_renew_hook,
    }
    if len(argv) < 2 or argv[1] not in commands:
        print(__doc__)
        return 64
    try:
        commands[argv[1]](*argv[2:])
    except CheckFailed as e:
        print("check %s FAILED: %s" % (argv[1], e), file=sys.stderr)
        return 1
    except (OSError, smtplib.SMTPException, imaplib.IMAP4.error) as e:
        print("check %s FAILED: %s: %s" % (argv[1], type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
