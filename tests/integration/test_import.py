"""`mailbag user import`: the users of a Dovecot passwd-file move in with
their old hashes and log in over IMAP and submission with their old
passwords; a file with any bad line imports nothing."""

import json
import subprocess

from conftest import new_domain
from helpers import imap_login, submission_login


def doveadm_pw(scheme, password):
    return subprocess.run(["doveadm", "pw", "-s", scheme, "-p", password],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_passwd_file_users_log_in_with_their_old_passwords(stack, tmp_path):
    domain = new_domain(stack)
    other = "import-%s" % domain  # not served yet: --create-domains adds it
    sha = doveadm_pw("SHA512-CRYPT", "old-password-1")
    blf = doveadm_pw("BLF-CRYPT", "old-password-2")
    bare = doveadm_pw("SHA256-CRYPT", "old-password-3")[len("{SHA256-CRYPT}"):]
    passwd = tmp_path / "passwd"
    passwd.write_text("# users of the old server\n"
                      "ann@%s:%s:5000:5000::::userdb_quota_rule=*:storage=10M\n"
                      "bob:%s\n"
                      "cat@%s:%s\n" % (domain, sha, blf, other, bare))
    dry = stack.mailbag("user", "import", "--domain", domain, "--dry-run", str(passwd))
    assert dry.returncode == 65 and "domain %s is not served" % other in dry.stderr, dry.stderr
    out = stack.mailbag("--json", "user", "import", "--domain", domain, "--create-domains",
                        str(passwd), check=True).stdout
    assert json.loads(out) == {"file": str(passwd), "imported": 3, "domains_created": 1}
    imap_login(stack, "ann@" + domain, "old-password-1").logout()
    imap_login(stack, "bob@" + domain, "old-password-2").logout()
    imap_login(stack, "cat@" + other, "old-password-3").logout()
    assert submission_login(stack, "bob@" + domain, "old-password-2")
    assert not submission_login(stack, "bob@" + domain, "old-password-1")
    listed = json.loads(stack.mailbag("--json", "user", "list", domain, check=True).stdout)
    ann = [u for u in listed if u["address"] == "ann@" + domain][0]
    assert (ann["quota_bytes"], ann["quota_from"]) == (10 << 20, "user")
    # the hashes were not printed anywhere
    assert sha not in out and "$2y$" not in out


def test_a_file_with_a_bad_line_imports_nothing(stack, tmp_path):
    domain = new_domain(stack)
    sha = doveadm_pw("SHA512-CRYPT", "old-password-1")
    passwd = tmp_path / "passwd"
    passwd.write_text("good@%s:%s\n"
                      "plain@%s:{PLAIN}secret\n"
                      "good@%s:%s\n" % (domain, sha, domain, domain, sha))
    proc = stack.mailbag("user", "import", str(passwd))
    assert proc.returncode == 65
    assert "%s:2: plain-text passwords are not imported" % passwd in proc.stderr, proc.stderr
    assert "%s:3: good@%s (also on line 1) appears twice" % (passwd, domain) in proc.stderr
    assert "nothing was imported" in proc.stderr
    assert "secret" not in proc.stderr and sha not in proc.stderr
    listed = json.loads(stack.mailbag("--json", "user", "list", domain, check=True).stdout)
    assert listed == []
