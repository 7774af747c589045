"""A throw-away Postfix + Dovecot instance built from `deploy/kim/` (issue 15, `.ci/kim-live`).

Root only (Postfix's master and Dovecot drop privileges themselves); everything lives in one
temporary directory on high ports on 127.0.0.1, no chroot, no system configuration touched.
The shipped files are used as they are, with only paths, ports and users replaced."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kim"

#: Postfix's own services (Debian's master.cf, without the port-25 smtpd), chroot off
CORE_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def installed() -> bool:
    return all(shutil.which(tool) for tool in ("postfix", "postconf", "dovecot", "doveconf"))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Live:
    """Ports and folders of one running instance."""

    root: Path
    domain: str
    submission: int = field(default_factory=_free_port)
    submissions: int = field(default_factory=_free_port)
    filter_port: int = field(default_factory=_free_port)
    after_filter: int = field(default_factory=_free_port)
    pop3: int = field(default_factory=_free_port)
    pop3s: int = field(default_factory=_free_port)

    @property
    def postfix_dir(self) -> Path:
        return self.root / "postfix"

    @property
    def dovecot_conf(self) -> Path:
        return self.root / "dovecot" / "dovecot.conf"

    def log(self) -> str:
        parts = []
        for name in ("postfix.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n" + path.read_text(errors="replace")[-6000:])
        return "\n".join(parts)


def postfix_config(live: Live, tls_cert: Path, tls_key: Path) -> tuple[str, str]:
    """(main.cf, master.cf) of the instance from the shipped files."""
    main = (DEPLOY / "postfix" / "main.cf").read_text()
    main = main.replace("/etc/kvportal/kim/tls.crt", str(tls_cert))
    main = main.replace("/etc/kvportal/kim/tls.key", str(tls_key))
    main = main.replace(
        "/etc/postfix/kim-sender-login.pcre", str(live.postfix_dir / "kim-sender-login.pcre")
    )
    main = re.sub(
        r"(?m)^virtual_mailbox_domains = .*$", f"virtual_mailbox_domains = {live.domain}", main
    )
    main += f"""
# --- kvportal .ci/kim-live instance (tests/kim/live.py)
compatibility_level = 3.6
config_directory = {live.postfix_dir}
queue_directory = {live.root / "spool"}
data_directory = {live.root / "data"}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
maillog_file = {live.root / "postfix.log"}
maillog_file_prefixes = {live.root}
smtpd_banner = $myhostname ESMTP kim-live
"""
    master = CORE_SERVICES + (DEPLOY / "postfix" / "master.cf").read_text()
    master = re.sub(
        r"(?m)^submission +inet +n +- +y ", f"127.0.0.1:{live.submission} inet n - n ", master
    )
    master = re.sub(
        r"(?m)^submissions +inet +n +- +y ", f"127.0.0.1:{live.submissions} inet n - n ", master
    )
    master = master.replace("127.0.0.1:10025", f"127.0.0.1:{live.filter_port}")
    master = master.replace("127.0.0.1:10026 inet", f"127.0.0.1:{live.after_filter} inet")
    return main, master


def dovecot_config(live: Live, tls_cert: Path, tls_key: Path, checkpassword: Path) -> str:
    conf = (DEPLOY / "dovecot" / "dovecot.conf").read_text()
    conf = conf.replace("/etc/kvportal/kim/tls.crt", str(tls_cert))
    conf = conf.replace("/etc/kvportal/kim/tls.key", str(tls_key))
    conf = conf.replace("/usr/local/bin/kvportal-kim-checkpassword", str(checkpassword))
    conf = conf.replace("/var/vmail/", f"{live.root / 'vmail'}/")
    conf = conf.replace("/var/spool/postfix/", f"{live.root / 'spool'}/")
    conf = conf.replace("listen = *", "listen = 127.0.0.1")
    conf = conf.replace("mail_uid = vmail", "mail_uid = nobody")
    conf = conf.replace("mail_gid = vmail", "mail_gid = nogroup")
    conf = conf.replace("port = 110", f"port = {live.pop3}")
    conf = conf.replace("port = 995", f"port = {live.pop3s}")
    return (
        conf
        + f"""
# --- kvportal .ci/kim-live instance (tests/kim/live.py)
base_dir = {live.root / "dovecot-run"}
instance_name = kim-live
log_path = {live.root / "dovecot.log"}
ssl_dh = <{live.root / "dh.pem"}
# the checkpassword program runs this checkout's venv (under /root on CI)
service auth {{
  user = root
}}
"""
    )


def checkpassword_wrapper(live: Live, env: dict[str, str], accounts: str) -> Path:
    """The shipped wrapper's command with this checkout's venv and the test's environment
    (Dovecot clears the environment of the programs it runs)."""
    venv = Path(os.environ.get("VIRTUAL_ENV") or Path(__file__).resolve().parents[2] / ".venv")
    shipped = (DEPLOY / "kvportal-kim-checkpassword").read_text()
    assert "kvportal kim checkpassword" in shipped
    exports = "".join(f"export {k}='{v}'\n" for k, v in sorted(env.items()))
    path = live.root / "kvportal-kim-checkpassword"
    path.write_text(
        "#!/bin/sh\n" + exports + f"exec {venv}/bin/kvportal kim checkpassword "
        f"--accounts '{accounts}' --mail-root {live.root / 'vmail'} "
        '--mail-user nobody --mail-group nogroup "$@"\n'
    )
    path.chmod(0o755)
    return path


def _dh(path: Path) -> None:
    cached = Path(tempfile.gettempdir()) / "kvportal-kim-live-dh.pem"
    if not cached.exists():
        subprocess.run(
            ["openssl", "dhparam", "-dsaparam", "-out", str(cached), "2048"],
            check=True, capture_output=True,
        )  # fmt: skip
    shutil.copy(cached, path)


def start(
    *, domain: str, tls_cert: Path, tls_key: Path, env: dict[str, str], accounts: str
) -> Live:
    root = Path(tempfile.mkdtemp(prefix="kim-live-"))
    root.chmod(0o755)  # Postfix and Dovecot users must traverse it
    live = Live(root=root, domain=domain)
    for sub in ("postfix", "spool", "data", "dovecot", "vmail", "dovecot-run"):
        (root / sub).mkdir()
    shutil.chown(root / "vmail", "nobody", "nogroup")
    shutil.chown(root / "data", "postfix", "postfix")
    cert, key = root / "tls.crt", root / "tls.key"
    shutil.copy(tls_cert, cert)
    shutil.copy(tls_key, key)
    key.chmod(0o600)
    _dh(root / "dh.pem")
    main, master = postfix_config(live, cert, key)
    (live.postfix_dir / "main.cf").write_text(main)
    (live.postfix_dir / "master.cf").write_text(master)
    shutil.copy(DEPLOY / "postfix" / "kim-sender-login.pcre", live.postfix_dir)
    wrapper = checkpassword_wrapper(live, env, accounts)
    live.dovecot_conf.write_text(dovecot_config(live, cert, key, wrapper))
    try:
        _run(["postfix", "-c", str(live.postfix_dir), "check"])
        _run(["dovecot", "-c", str(live.dovecot_conf)])
        _run(["postfix", "-c", str(live.postfix_dir), "start"])
        _wait_for_port(live.submission)
        _wait_for_port(live.pop3)
        _wait_for_path(root / "spool" / "private" / "dovecot-lmtp")
    except Exception:
        stop(live)
        raise
    return live


def _run(argv: list[str]) -> None:
    # daemons keep inherited pipes open: their output goes to a file, not to a pipe
    with tempfile.TemporaryFile() as output:
        result = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output, timeout=60, check=False
        )
        if result.returncode != 0:
            output.seek(0)
            raise RuntimeError(f"{' '.join(argv)}: {output.read().decode(errors='replace')}")


def _wait_for_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} not listening")


def _wait_for_path(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.1)
    if not path.exists():
        raise RuntimeError(f"{path} missing")


def stop(live: Live) -> None:
    subprocess.run(
        ["postfix", "-c", str(live.postfix_dir), "stop"], capture_output=True, check=False
    )
    subprocess.run(
        ["doveadm", "-c", str(live.dovecot_conf), "stop"], capture_output=True, check=False
    )
    time.sleep(0.3)
    if not os.environ.get("KIM_LIVE_KEEP"):
        shutil.rmtree(live.root, ignore_errors=True)


def wait_for_delivery(live: Live, address: str, count: int, timeout: float = 30.0) -> list[Path]:
    """The files in `address`'s Maildir new/ once there are `count` of them."""
    folder = live.root / "vmail" / address / "new"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*")) if folder.exists() else []
        if len(files) >= count:
            return files
        time.sleep(0.2)
    raise AssertionError(f"{count} mails for {address} not delivered\n{live.log()}")
