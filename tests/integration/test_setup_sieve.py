"""What `mailbag setup --root DIR` does for Sieve (issue 21 point 4): the
context's sieve.before_dir and sieve.after_dir made and named in
90-mailbag.conf as Dovecot reads it (doveconf), the scripts found there
compiled with sievec, a script that does not compile refused with the
directory and its key named, and the ManageSieve listener of
clients.sieve_port. The scripts' effect on delivery is test_sieve.py's."""

import json
import os
import subprocess

from mailstack import dovecot24, free_port
from test_setup import copy_distribution_configs, run_setup, setup_env  # noqa: F401

GOOD = 'require ["fileinto"];\nif header :contains "Subject" "x" { fileinto "X"; }\n'


def doveconf(root):
    out = subprocess.run(["doveconf", "-c", os.path.join(root, "etc", "dovecot", "dovecot.conf"), "-n"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_setup_makes_and_compiles_the_global_sieve_directories(stack, tmp_path):
    root = str(tmp_path / "root")
    os.makedirs(root)
    os.chmod(str(tmp_path), 0o755)
    copy_distribution_configs(root)
    before = os.path.join(root, "etc", "mailbag", "sieve", "before")
    after = os.path.join(root, "etc", "mailbag", "sieve", "after")
    # a script already there (an import, an earlier install) is compiled
    os.makedirs(before)
    with open(os.path.join(before, "10-spam.sieve"), "w") as f:
        f.write(GOOD)
    ports = {name: free_port() for name in ("smtp", "submission", "submissions", "imap", "imaps")}
    first = run_setup(stack.mailbag_bin, root, ports)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "compile the Sieve scripts in %s (sievec): 10-spam.sieve" % before in first.stdout
    assert os.path.exists(os.path.join(before, "10-spam.svbin"))
    assert os.path.isdir(after) and "create %s" % after in first.stdout
    with open(os.path.join(root, "etc", "mailbag", "context.json")) as f:
        ctx = json.load(f)
    assert ctx["sieve"] == {"before_dir": before, "after_dir": after}
    conf = doveconf(root)
    if dovecot24():
        assert "sieve_script mailbag-before {\n  path = %s\n" % before in conf
        assert "sieve_script mailbag-after {\n  path = %s\n" % after in conf
        # Debian 13's deprecated ManageSieve port is closed
        assert "inet_listener sieve_deprecated {\n    port = 0\n" in conf
    else:
        assert "sieve_before2 = %s\n" % before in conf and "sieve_after = %s\n" % after in conf
        assert "sieve = file:~/sieve;active=~/.dovecot.sieve\n" in conf
    # nothing to do the second time
    second = run_setup(stack.mailbag_bin, root, ports)
    assert second.returncode == 0 and "compile the Sieve" not in second.stdout, second.stdout
    # a changed script is compiled again; a broken one is named
    with open(os.path.join(after, "20-bad.sieve"), "w") as f:
        f.write('require ["nosuchextension"];\nkeep\n')
    bad = run_setup(stack.mailbag_bin, root, ports)
    assert bad.returncode != 0
    assert "a script in %s (context key sieve.after_dir) does not compile" % after in bad.stderr, bad.stderr
    os.unlink(os.path.join(after, "20-bad.sieve"))
    # another ManageSieve port in the context: the listener setup writes
    ctx.setdefault("clients", {})["sieve_port"] = 14190
    with open(os.path.join(root, "etc", "mailbag", "context.json"), "w") as f:
        json.dump(ctx, f)
    moved = run_setup(stack.mailbag_bin, root, ports)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "inet_listener sieve {\n    port = 14190\n" in doveconf(root)
