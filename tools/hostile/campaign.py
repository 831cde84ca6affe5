#!/usr/bin/env python3
"""Hostile campaign against regaudit (find, do not fix).

Run:  python tools/hostile/campaign.py [CLASS ...]   (classes: 1..11; default all; run it in the foreground:
a background shell starts it with SIGINT and SIGHUP ignored)
One line per case: PASS/FAIL <class> <command> <what happened>. Trees are built under $HOSTILE_DIR/fx
(default /tmp/regaudit-hostile; they include 1 and 8 GiB sparse files). REGAUDIT=/path/to/regaudit tests
another install (default: 'regaudit' on PATH). A tool for issue 21's held-out classes, not a test: it
flags anything over 10 s or 500 MB on the machine it runs on."""
import json
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures as fx  # noqa: E402

H = os.environ.get("HOSTILE_DIR", "/tmp/regaudit-hostile")
FX = fx.FX
RA = os.environ.get("REGAUDIT") or shutil.which("regaudit") or "regaudit"
XDG = f"{H}/xdg"
T_MAX, M_MAX = 10.0, 500  # s, MB: the local flag bar
RESULTS = []
VERBOSE = os.environ.get("V")


class Res:
    def __init__(self, rc, out, err, t, mb, timed_out=False):
        self.rc, self.out, self.err, self.t, self.mb, self.timed_out = rc, out, err, t, mb, timed_out

    def first_err(self):
        lines = [ln for ln in self.err.decode("utf-8", "replace").splitlines() if ln.strip()]
        tb = [ln for ln in lines if "Error" in ln or "error" in ln]
        if any("Traceback" in ln for ln in lines):
            return "TRACEBACK: " + " | ".join(lines[-3:])
        return (lines[0] if lines else "")[:220]


def base_env(**kw):
    e = dict(os.environ)
    for k in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "COLUMNS", "LINES"):
        e.pop(k, None)
    e["XDG_CACHE_HOME"] = XDG
    e.update({k: v for k, v in kw.items() if v is not None})
    for k, v in kw.items():
        if v is None:
            e.pop(k, None)
    return e


def run(argv, cwd=None, env=None, stdout=None, stderr=None, fsize=None, timeout=60, pre=None, stdin=None):
    """Run regaudit (argv without the program); stdout/stderr: None (pipe) or a path. Returns Res."""
    env = env or base_env()
    out_f = open(stdout, "wb") if stdout else subprocess.PIPE
    err_f = open(stderr, "wb") if stderr else subprocess.PIPE

    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if pre:
            pre()
    t0 = time.monotonic()
    p = subprocess.Popen([RA, *argv], cwd=cwd, env=env, stdout=out_f, stderr=err_f, preexec_fn=preexec,
                         stdin=stdin if stdin is not None else subprocess.DEVNULL)
    try:
        out, err = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL) if False else p.kill()
        out, err = p.communicate()
        timed_out = True
    t = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    mb = ru.ru_maxrss / 1024
    if stdout:
        out_f.close()
        out = b""
    if stderr:
        err_f.close()
        err = b""
    return Res(p.returncode, out or b"", err or b"", t, mb, timed_out)


def run_measured(argv, **kw):
    """Like run, but the peak memory is this child's own (measured through a fresh python in between)."""
    # RUSAGE_CHILDREN is cumulative-max over every child; use a wrapper that reports wait4's ru_maxrss
    return _wrapped(argv, **kw)


_WRAP = ("import os,sys,signal,resource\n"
         "fs=int(sys.argv[1]); signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
         "pid=os.fork()\n"
         "if pid==0:\n"
         "  (resource.setrlimit(resource.RLIMIT_FSIZE,(fs,fs)) if fs>=0 else None)\n"
         "  os.close(int(sys.argv[3])); os.execv(sys.argv[2], [sys.argv[2]] + sys.argv[4:])\n"
         "_,st,ru=os.wait4(pid,0)\n"
         "os.write(int(sys.argv[3]), ('%d %d' % (os.waitstatus_to_exitcode(st), ru.ru_maxrss)).encode())\n"
         "sys.exit(0)\n")


def _wrapped(argv, cwd=None, env=None, stdout=None, stderr=None, fsize=None, timeout=60, pre=None, stdin=None):
    env = env or base_env()
    r, w = os.pipe()
    out_f = open(stdout, "wb") if stdout else subprocess.PIPE
    err_f = open(stderr, "wb") if stderr else subprocess.PIPE
    t0 = time.monotonic()

    p = subprocess.Popen([sys.executable, "-c", _WRAP, str(-1 if fsize is None else fsize), RA, str(w), *argv], cwd=cwd,
                         env=env, stdout=out_f, stderr=err_f, preexec_fn=pre, pass_fds=(w,),
                         stdin=stdin if stdin is not None else subprocess.DEVNULL, start_new_session=True)
    os.close(w)
    timed_out = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        timed_out = True
    t = time.monotonic() - t0
    info = os.read(r, 100).decode().split()
    os.close(r)
    if stdout:
        out_f.close()
    if stderr:
        err_f.close()
    rc, kb = (int(info[0]), int(info[1])) if len(info) == 2 else (p.returncode, 0)
    return Res(rc if not timed_out else 124, out or b"", err or b"", t, kb / 1024, timed_out)


def record(cls, cmd, res, problems, extra=""):
    status = "FAIL" if problems else "PASS"
    what = f"exit {res.rc}, {res.t:.1f} s, {res.mb:.0f} MB"
    if res.timed_out:
        what = "TIMEOUT " + what
    fe = res.first_err()
    line = f"{status} [{cls}] {cmd} :: {what}; stderr: {fe!r}"
    if problems:
        line += " ;; " + "; ".join(problems)
    if extra:
        line += " ;; " + extra
    RESULTS.append((status, cls, line))
    print(line, flush=True)


def generic(res, rc_ok=None):
    p = []
    err = res.err.decode("utf-8", "replace")
    if "Traceback" in err or "internal error" in err:
        p.append("traceback/internal error")
    if res.timed_out:
        p.append("hung (timeout)")
    if res.t > T_MAX:
        p.append(f"slow {res.t:.1f}s")
    if res.mb > M_MAX:
        p.append(f"memory {res.mb:.0f} MB")
    if rc_ok is not None and res.rc not in rc_ok:
        p.append(f"exit {res.rc} not in {sorted(rc_ok)}")
    return p


def case(cls, cmd_label, argv, rc_ok=None, check=None, **kw):
    res = _wrapped(argv, **kw)
    probs = generic(res, rc_ok)
    extra = ""
    if check:
        c = check(res)
        if isinstance(c, tuple):
            c, extra = c
        if c:
            probs.append(c)
    record(cls, cmd_label or " ".join(shlex.quote(a) for a in argv), res, probs, extra)
    return res


def one_line(res):
    lines = [ln for ln in res.err.decode("utf-8", "replace").splitlines() if ln.strip()]
    if res.rc == 2 and len(lines) != 1:
        return f"exit 2 with {len(lines)} stderr lines"
    return None


# ---------------------------------------------------------------------------------------------- fixtures
SD = MUS = None


def setup():
    global SD, MUS
    os.makedirs(XDG, exist_ok=True)
    SD = fx.sd_tree(f"{FX}/sd")
    MUS = fx.musubi_tree(f"{FX}/mus")


def sd_cmds(sd=None):
    """(label, argv) of every command's common variants on an sd tree."""
    sd = sd or SD
    tr, rg = f"{sd}/train", f"{sd}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
    return [
        ("scan", ["scan", *base, "--no-progress"]),
        ("scan --images", ["scan", *base, "--images"]),
        ("scan --json", ["scan", *base, "--json"]),
        ("balance", ["balance", *base, "--enable_bucket", "--max_train_epochs", "10"]),
        ("balance --images", ["balance", *base, "--images"]),
        ("balance --json", ["balance", *base, "--json"]),
        ("balance --suggest", ["balance", *base, "--suggest", "--reg-share", "0.3"]),
        ("dupes", ["dupes", *base, "--no-cache"]),
        ("dupes --json", ["dupes", *base, "--json", "--no-cache"]),
        ("captions", ["captions", *base, "--caption_extension", ".caption"]),
        ("captions --images", ["captions", *base, "--images"]),
        ("captions --json", ["captions", *base, "--json"]),
        ("check", ["check", *base, "--fail-on", "never"]),
        ("check --dupes", ["check", *base, "--dupes", "--no-cache", "--fail-on", "never"]),
        ("check --format json", ["check", *base, "--format", "json"]),
        ("check --format github", ["check", *base, "--format", "github"]),
        ("check --format junit", ["check", *base, "--format", "junit"]),
        ("fix (plan)", ["fix", *base]),
        ("fix --json (plan)", ["fix", *base, "--json"]),
        ("fix --unsafe-fixes (plan)", ["fix", *base, "--unsafe-fixes"]),
        ("smoke", ["smoke", *base]),
        ("rules", ["rules"]),
        ("rules --json", ["rules", "--json"]),
        ("rules RA044", ["rules", "RA044"]),
        ("scan dataset_config", ["scan", "--dataset_config", f"{sd}/ds.toml"]),
        ("balance pasted", ["balance", "accelerate launch --num_processes=2 sdxl_train_network.py --dataset_config "
                            f"{sd}/ds.toml --max_train_epochs 4 --enable_bucket"]),
    ]


def mus_cmds(mus=None):
    mus = mus or MUS
    script = ["accelerate", "launch", "src/musubi_tuner/qwen_image_train_network.py", "--dataset_config",
              f"{mus}/ds.toml", "--max_train_epochs", "10"]
    return [
        ("musubi scan --images", ["scan", "--images", *script]),
        ("musubi scan --json", ["scan", "--json", *script]),
        ("musubi balance", ["balance", *script]),
        ("musubi balance --json", ["balance", "--json", *script]),
        ("musubi check", ["check", "--fail-on", "never", *script]),
        ("musubi check junit", ["check", "--format", "junit", *script]),
        ("musubi check github", ["check", "--format", "github", *script]),
    ]


# ---------------------------------------------------------------------------------------------- class 1
def c1_short_writes():
    cls = "1-short-write"
    ref = {}
    cmds = sd_cmds() + mus_cmds() + [("inspect", ["inspect", lora_file()]), ("inspect --json", ["inspect", "--json", lora_file()])]
    for label, argv in cmds:
        r0 = _wrapped(argv)
        ref[label] = r0
        n = len(r0.out)
        for limit in (4096, 512):
            if n <= limit:
                continue
            out = f"{H}/tmp/c1.out"
            os.makedirs(f"{H}/tmp", exist_ok=True)

            def chk(res, out=out, r0=r0, limit=limit):
                got = open(out, "rb").read()
                if res.rc != 2:
                    if got != r0.out:
                        return f"short write not reported: exit {res.rc}, {len(got)} of {len(r0.out)} bytes written"
                    return None
                if "standard output" not in res.err.decode("utf-8", "replace") and "stdout" not in res.err.decode():
                    return "exit 2 message does not name standard output"
                return one_line(res)
            case(cls, f"{label} >file (RLIMIT_FSIZE {limit}; full {n} B)", argv, check=chk, stdout=out, fsize=limit)
            break
        # /dev/full
        if n:
            case(cls, f"{label} >/dev/full", argv, rc_ok={2}, check=one_line, stdout="/dev/full")
        # stderr to /dev/full: same exit code and stdout as reference
        def chk2(res, r0=r0):
            if res.rc != r0.rc:
                return f"exit {res.rc} != reference {r0.rc} with stderr on /dev/full"
            return None
        r = _wrapped(argv, stderr="/dev/full")
        probs = generic(r) + ([chk2(r)] if chk2(r) else [])
        record(cls, f"{label} 2>/dev/full", r, probs)
    # -o targets under a file size limit
    tr, rg = f"{SD}/train", f"{SD}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
    od = f"{H}/tmp/c1o"
    for label, argv, name in [
        ("check -o human", ["check", *base, "--dupes", "--no-cache"], "c.txt"),
        ("check -o json", ["check", *base, "--format", "json"], "c.json"),
        ("check -o junit", ["check", *base, "--format", "junit"], "c.xml"),
        ("check -o github", ["check", *base, "--format", "github"], "c.gh"),
        ("report -o", ["report", *base, "--no-cache"], "r.html"),
        ("musubi report -o", ["report", "accelerate", "launch", "qwen_image_train_network.py", "--dataset_config",
                              f"{MUS}/ds.toml"], "m.html"),
        ("musubi check -o junit", ["check", "--format", "junit", "qwen_image_train_network.py", "--dataset_config",
                                   f"{MUS}/ds.toml"], "m.xml"),
    ]:
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)

        def chk(res, name=name):
            left = os.listdir(od)
            if res.rc != 2:
                return f"exit {res.rc} on a full -o target; left {left}"
            if left:
                return f"left in target folder: {left}"
            if name not in res.err.decode("utf-8", "replace"):
                return "message does not name the file"
            return one_line(res)
        case(cls, f"{label} (RLIMIT_FSIZE 1024)", [*argv, "-o", f"{od}/{name}"], check=chk, fsize=1024)
    # GITHUB_STEP_SUMMARY
    for label, argv in [("check summary", ["check", *base]), ("check junit summary", ["check", *base, "--format", "junit"]),
                        ("musubi check summary", ["check", "qwen_image_train_network.py", "--dataset_config",
                                                  f"{MUS}/ds.toml"])]:
        case(cls, f"{label} GITHUB_STEP_SUMMARY=/dev/full", argv, rc_ok={2}, check=one_line,
             env=base_env(GITHUB_STEP_SUMMARY="/dev/full"))
        sm = f"{H}/tmp/summary.md"
        if os.path.exists(sm):
            os.unlink(sm)
        fo = f"{H}/tmp/c1sum.out"

        def chk(res):
            if res.rc != 2:
                return f"exit {res.rc}: summary cut to {os.path.getsize(sm) if os.path.exists(sm) else 0} B under the limit"
            return one_line(res)
        # stdout to a pipe (not limited); the summary file is limited
        case(cls, f"{label} GITHUB_STEP_SUMMARY under RLIMIT_FSIZE 300", argv, check=chk, fsize=300,
             env=base_env(GITHUB_STEP_SUMMARY=sm))
    # fix --out on a full target
    for label, extra in [("fix --out", []), ("fix --out --unsafe-fixes", ["--unsafe-fixes"]), ("fix --out --hardlink", ["--hardlink"])]:
        od = f"{H}/tmp/c1fix"
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)

        def chk(res):
            left = os.listdir(od)
            if res.rc != 2:
                return f"exit {res.rc} on a full --out target; left {left}"
            if left:
                return f"left in target's folder: {left}"
            return one_line(res)
        case(cls, f"{label} (RLIMIT_FSIZE 2000)", ["fix", *base, *extra, "--out", f"{od}/out"], check=chk, fsize=2000)
        # fix --out with stdout to /dev/full: must not leave a half state or exit 0
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)
        case(cls, f"{label} >/dev/full", ["fix", *base, *extra, "--out", f"{od}/out"], rc_ok={2}, check=one_line,
             stdout="/dev/full")


def lora_file(meta=None, name="lora.safetensors"):
    p = f"{H}/fx/lora/{name}"
    os.makedirs(os.path.dirname(p), exist_ok=True)
    meta = meta or {
        "ss_base_model_version": "sd_v1", "ss_network_module": "networks.lora", "ss_num_train_images": "40",
        "ss_num_reg_images": "6", "ss_num_epochs": "10", "ss_max_train_steps": "400", "ss_num_batches_per_epoch": "40",
        "ss_batch_size_per_device": "1", "ss_resolution": "(512, 512)", "ss_dataset_dirs":
            json.dumps({"10_sks dog": {"n_repeats": 10, "img_count": 4}}),
        "ss_reg_dataset_dirs": json.dumps({"1_dog": {"n_repeats": 1, "img_count": 6}}),
        "ss_tag_frequency": json.dumps({"10_sks dog": {"sks dog": 4, "white shirt": 2}})}
    with open(p, "wb") as f:
        f.write(fx.safetensors_header(meta))
    return p


# ---------------------------------------------------------------------------------------------- class 2
def c2_deleted_cwd():
    cls = "2-deleted-cwd"
    gone = f"{H}/tmp/gone"

    def pre():
        os.makedirs(gone, exist_ok=True)
        os.chdir(gone)
        os.rmdir(gone)
    cmds = sd_cmds() + mus_cmds() + [("inspect", ["inspect", lora_file()]),
                                     ("inspect compare", ["inspect", lora_file(), f"{SD}/train", "--reg", f"{SD}/reg"])]
    for label, argv in cmds:
        r0 = _wrapped(argv)
        case(cls, label, argv, rc_ok={r0.rc}, pre=pre)
    tr, rg = f"{SD}/train", f"{SD}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
    od = f"{H}/tmp/c2"
    shutil.rmtree(od, ignore_errors=True)
    os.makedirs(od)
    case(cls, "report -o ABS", ["report", *base, "--no-cache", "-o", f"{od}/r.html"], rc_ok={0}, pre=pre)
    case(cls, "report (no -o: ./report.html in a deleted cwd)", ["report", *base, "--no-cache"], rc_ok={2},
         check=one_line, pre=pre)
    case(cls, "check -o ABS junit", ["check", *base, "--format", "junit", "-o", f"{od}/c.xml"], rc_ok={0, 1}, pre=pre)
    case(cls, "fix --out ABS", ["fix", *base, "--out", f"{od}/fixed"], rc_ok={0, 1}, pre=pre)
    case(cls, "fix --out ABS --unsafe-fixes", ["fix", *base, "--unsafe-fixes", "--out", f"{od}/fixed2"], rc_ok={0, 1},
         pre=pre)
    case(cls, "dupes default cache", ["dupes", *base], rc_ok={0, 1}, pre=pre)
    case(cls, "check GITHUB_STEP_SUMMARY ABS", ["check", *base], rc_ok={0, 1}, pre=pre,
         env=base_env(GITHUB_STEP_SUMMARY=f"{od}/sum.md"))
    case(cls, "check GITHUB_STEP_SUMMARY relative", ["check", *base], rc_ok={0, 1, 2}, pre=pre,
         env=base_env(GITHUB_STEP_SUMMARY="sum.md"))
    case(cls, "scan relative path", ["scan", "train"], rc_ok={2}, check=one_line, pre=pre)
    case(cls, "musubi report -o ABS", ["report", "qwen_image_train_network.py", "--dataset_config", f"{MUS}/ds.toml",
                                       "-o", f"{od}/m.html"], rc_ok={0}, pre=pre)
    case(cls, "check --policy ABS", ["check", *base, "--policy", policy_file("fail-on: warning\n")], rc_ok={0, 1},
         pre=pre)
    case(cls, "balance pasted relative toml", ["balance", "train_network.py --dataset_config ds.toml"], rc_ok={2},
         check=one_line, pre=pre)
    case(cls, "smoke --json", ["smoke", *base, "--json"], rc_ok={2}, pre=pre)
    case(cls, "HOME unset + deleted cwd, dupes", ["dupes", *base], rc_ok={0, 1}, pre=pre,
         env=base_env(HOME=None, XDG_CACHE_HOME=None))


def policy_file(text, name="p.yaml"):
    p = f"{H}/fx/policy/{name}"
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    return p


# ---------------------------------------------------------------------------------------------- class 3
def c3_deep():
    cls = "3-deep-nesting"
    d = fx.deep_tree(f"{FX}/deep")
    tr, rg = f"{d}/train", f"{d}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
    od = f"{H}/tmp/c3"
    subprocess.run(["rm", "-rf", od], check=False)  # (shutil.rmtree recurses: the copies are 1,100 deep)
    os.makedirs(od)
    for label, argv in sd_cmds(d):
        case(cls, label, argv, rc_ok={0, 1, 2} if label != "smoke" else {2}, check=one_line)
    case(cls, "report -o", ["report", *base, "--no-cache", "-o", f"{od}/r.html"], rc_ok={0})
    case(cls, "fix --out", ["fix", *base, "--out", f"{od}/fixed"], rc_ok={0, 1})
    case(cls, "fix --out --unsafe-fixes (move-up)", ["fix", *base, "--unsafe-fixes", "--out", f"{od}/fixed2"],
         rc_ok={0, 1})
    case(cls, "fix --out --hardlink", ["fix", *base, "--hardlink", "--out", f"{od}/fixed3"], rc_ok={0, 1})
    # musubi with a deep image_directory
    m = f"{FX}/mdeep"
    if not os.path.exists(m + "/.done"):
        fx.musubi_tree(m)
        cwd = os.getcwd()
        os.chdir(f"{m}/img")
        for _ in range(1100):
            os.mkdir("n")
            os.chdir("n")
        fx._img_here("x.png")
        open("x.txt", "w").write("deep")
        os.chdir(cwd)
    for label, argv in mus_cmds(m):
        case(cls, label, argv, rc_ok={0, 1})
    case(cls, "musubi report -o", ["report", "qwen_image_train_network.py", "--dataset_config", f"{m}/ds.toml", "-o",
                                   f"{od}/m.html"], rc_ok={0})
    # a deep reg root and a deep cache dir, dupes with a cache
    case(cls, "dupes with cache", ["dupes", *base, "--cache", f"{od}/h.sqlite"], rc_ok={0, 1})
    case(cls, "inspect compare deep", ["inspect", lora_file(), *base], rc_ok={0, 1})


# ---------------------------------------------------------------------------------------------- class 4
VALUES = ["inf", "nan", "1e309", "-1", "0", "1e23", "-inf", "100000000000000000000000000000"]


def c4_numbers():
    cls = "4-numbers"
    tr, rg = f"{SD}/train", f"{SD}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg]
    sd_opts = ["--max_train_epochs", "--max_train_steps", "--train_batch_size", "--gradient_accumulation_steps",
               "--resolution", "--min_bucket_reso", "--max_bucket_reso", "--bucket_reso_steps", "--prior_loss_weight",
               "--max_token_length", "--keep_tokens", "--caption_dropout_rate", "--caption_dropout_every_n_epochs",
               "--caption_tag_dropout_rate", "--token_warmup_min", "--token_warmup_step", "--num_processes",
               "--seed", "--max_data_loader_n_workers", "--vae_batch_size", "--save_every_n_epochs",
               "--dataset_repeats", "--network_dim", "--learning_rate"]
    ok = {0, 1, 2}
    for opt in sd_opts:
        for v in VALUES:
            if v in ("-inf", "1e309"):
                continue
            argv = ["balance", *base, "--resolution", "512", "--enable_bucket", opt, v] if opt != "--resolution" else \
                ["balance", *base, "--enable_bucket", opt, v]
            case(cls, f"balance {opt} {v}", argv, rc_ok=ok, check=one_line)
    # the same options on other commands, fewer values
    for cmd in ["scan", "captions", "check", "fix", "report", "smoke", "dupes"]:
        for opt in ["--max_train_epochs", "--train_batch_size", "--gradient_accumulation_steps", "--resolution",
                    "--prior_loss_weight", "--max_token_length", "--keep_tokens", "--token_warmup_step",
                    "--caption_dropout_every_n_epochs", "--num_processes", "--max_bucket_reso", "--bucket_reso_steps"]:
            for v in ["inf", "nan"]:
                extra = ["-o", f"{H}/tmp/c4.html", "--force", "--no-dupes"] if cmd == "report" else []
                extra += ["--no-cache"] if cmd == "dupes" else []
                argv = [cmd, *base, opt, v, *extra] + (["--resolution", "512"] if opt != "--resolution" else [])
                case(cls, f"{cmd} {opt} {v}", argv, rc_ok=ok, check=one_line)
    # regaudit's own numeric options
    own = [("balance", ["--suggest", "--reg-share"]), ("dupes", ["--max-distance"]), ("dupes", ["--max_distance"]),
           ("captions", ["--top"]), ("report", ["--thumb-size"]), ("smoke", ["--batch-size"]), ("smoke", ["--huber-c"]),
           ("smoke", ["--seed"]), ("scan", ["-j"]), ("dupes", ["--jobs"]), ("inspect", ["--top"]),
           ("balance", ["--num_processes"]), ("check", ["--num-processes"])]
    for cmd, opt in own:
        for v in VALUES:
            extra = ["-o", f"{H}/tmp/c4.html", "--force", "--no-dupes"] if cmd == "report" else []
            tgt = [lora_file()] if cmd == "inspect" else [*base, "--resolution", "512"]
            case(cls, f"{cmd} {' '.join(opt)} {v}", [cmd, *tgt, *opt, v, *extra], rc_ok=ok, check=one_line)
    # pasted command numbers
    for v in VALUES:
        case(cls, f"balance pasted accelerate --num_processes={v}",
             ["balance", f"accelerate launch --num_processes={v} train_network.py --train_data_dir {tr} --resolution 512"],
             rc_ok=ok, check=one_line)
        case(cls, f"balance pasted --max_train_epochs {v} --gradient_accumulation_steps {v}",
             ["balance", f"python train_network.py --train_data_dir {tr} --resolution 512 --max_train_epochs {v} "
                         f"--gradient_accumulation_steps {v}"], rc_ok=ok, check=one_line)
        case(cls, f"balance pasted --resolution {v},{v}",
             ["balance", f"python sdxl_train_network.py --train_data_dir {tr} --resolution {v},{v} --enable_bucket"],
             rc_ok=ok, check=one_line)
    # fix --background numbers
    for v in ["1e309,0,0", "inf,nan,1", "-1,-1,-1", "99999999999999999999,0,0", "#GGGGGG", "#" + "f" * 10000]:
        case(cls, f"fix --background {v[:30]}", ["fix", *base, "--unsafe-fixes", "--background", v], rc_ok={0, 1, 2},
             check=one_line)
    # dataset config numbers (TOML / JSON)
    keys = ["resolution", "num_repeats", "batch_size", "keep_tokens", "min_bucket_reso", "max_bucket_reso",
            "bucket_reso_steps", "caption_dropout_rate", "caption_dropout_every_n_epochs", "caption_tag_dropout_rate",
            "token_warmup_min", "token_warmup_step", "max_token_length"]
    tvals = {"inf": "inf", "nan": "nan", "-1": "-1", "0": "0", "1e23": "1e23", "1e309": "1e309",
             "bigint": "100000000000000000000000000000"}
    d = f"{H}/fx/cfgnum"
    os.makedirs(d, exist_ok=True)
    for k in keys:
        for name, v in tvals.items():
            where = "general" if k in ("resolution", "batch_size", "min_bucket_reso", "max_bucket_reso",
                                      "bucket_reso_steps") else "subset"
            p = f"{d}/{k}_{name}.toml"
            fx.ds_toml(d, os.path.basename(p), **({"extra_general": f"{k} = {v}"} if where == "general" else
                                                 {"extra_subset": f"{k} = {v}"}))
            # ds_toml points at d/train: rewrite to SD
            s = open(p).read().replace(f'"{d}/', f'"{SD}/').replace(f"batch_size = 2\n{k} = {v}", f"{k} = {v}") \
                if k == "batch_size" else open(p).read().replace(f'"{d}/', f'"{SD}/')
            open(p, "w").write(s)
            cmds4 = ["balance"] + (["captions"] if "token" in k or "caption" in k else []) + \
                (["fix", "scan"] if name in ("inf", "nan") else [])
            for cmd in cmds4:
                case(cls, f"{cmd} --dataset_config [{k} = {v}]", [cmd, "--dataset_config", p, "--max_train_epochs", "2"],
                     rc_ok=ok, check=one_line)
            if name in ("inf", "nan", "1e309", "bigint"):
                pj = p[:-5] + ".json"
                jv = {"inf": "Infinity", "nan": "NaN", "1e309": "1e309", "bigint": tvals["bigint"]}[name]
                sub = {"image_dir": f"{SD}/train/10_sks dog", "num_repeats": 10, "class_tokens": "sks dog"}
                gen = {"resolution": 512}
                (gen if where == "general" else sub)[k] = "@@"
                txt = json.dumps({"general": gen, "datasets": [{"subsets": [sub]}]}).replace('"@@"', jv)
                open(pj, "w").write(txt)
                case(cls, f"balance --dataset_config JSON [{k}: {jv}]", ["balance", "--dataset_config", pj],
                     rc_ok=ok, check=one_line)
    # --config_file TOML numbers
    for k in ["max_train_epochs", "max_train_steps", "train_batch_size", "gradient_accumulation_steps",
              "prior_loss_weight", "resolution", "epoch", "max_token_length", "keep_tokens"]:
        for name, v in tvals.items():
            p = f"{d}/cf_{k}_{name}.toml"
            open(p, "w").write(f'train_data_dir = "{SD}/train"\nreg_data_dir = "{SD}/reg"\nresolution = "512,512"\n'
                               f'{k} = {v}\n' if k != "resolution" else
                               f'train_data_dir = "{SD}/train"\nresolution = {v}\n')
            case(cls, f"balance --config_file [{k} = {v}]", ["balance", "train_network.py", "--config_file", p],
                 rc_ok=ok, check=one_line)
    # policy numbers
    for k in ["resolution", "train_batch_size", "max_train_epochs", "max_train_steps", "prior_loss_weight",
              "gradient_accumulation_steps", "num_processes", "dataset_repeats", "min_bucket_reso"]:
        for v in [".inf", ".nan", "1e309", "-1", "1e23", "100000000000000000000000000000"]:
            pol = policy_file(f"training: {{{k}: {v}}}\n", f"p_{k}.yaml")
            case(cls, f"check policy training.{k}: {v}", ["check", *base, "--policy", pol], rc_ok=ok, check=one_line)
    for v in [".inf", ".nan", "1e309", "-1", "1e23"]:
        pol = policy_file(f"near-duplicate: x\nrules:\n  near-duplicate: {{max-distance: {v}}}\ndupes: true\n", "pd.yaml")
        pol = policy_file(f"rules:\n  near-duplicate: {{max-distance: {v}}}\ndupes: true\n", "pd.yaml")
        case(cls, f"check policy max-distance: {v}", ["check", *base, "--policy", pol, "--no-cache"], rc_ok=ok,
             check=one_line)
    # musubi numbers
    for k in ["num_repeats", "batch_size", "resolution", "bucket_reso_steps", "min_bucket_reso", "max_bucket_reso"]:
        for name, v in tvals.items():
            m = f"{H}/fx/mnum/{k}_{name}"
            if not os.path.exists(m + "/.done"):
                if k == "resolution":
                    fx.musubi_tree(m, general="")
                    s = open(f"{m}/ds.toml").read().replace("resolution = [1024, 1024]", f"resolution = [{v}, {v}]")
                    open(f"{m}/ds.toml", "w").write(s)
                elif k in ("num_repeats",):
                    fx.musubi_tree(m)
                    s = open(f"{m}/ds.toml").read().replace("num_repeats = 3", f"num_repeats = {v}")
                    open(f"{m}/ds.toml", "w").write(s)
                elif k == "batch_size":
                    fx.musubi_tree(m)
                    s = open(f"{m}/ds.toml").read().replace("batch_size = 2", f"batch_size = {v}")
                    open(f"{m}/ds.toml", "w").write(s)
                else:
                    fx.musubi_tree(m, extra=f"{k} = {v}\n")
            for cmd in ["balance"]:
                case(cls, f"musubi {cmd} [{k} = {v}]", [cmd, "qwen_image_train_network.py", "--dataset_config",
                                                         f"{m}/ds.toml", "--max_train_epochs", "3"], rc_ok=ok,
                     check=one_line)
        for v in VALUES:
            pass
    for opt in ["--max_train_epochs", "--max_train_steps", "--gradient_accumulation_steps", "--num_processes",
                "--seed"]:
        for v in VALUES:
            case(cls, f"musubi balance {opt} {v}", ["balance", "qwen_image_train_network.py", "--dataset_config",
                                                   f"{MUS}/ds.toml", opt, v], rc_ok=ok, check=one_line)
    # inspect: absurd numbers in metadata
    for v in ["inf", "nan", "1e309", "-1", "1e23", "100000000000000000000000000000", "(nan, nan)", "x"]:
        meta = {"ss_base_model_version": "sd_v1", "ss_network_module": "networks.lora", "ss_num_train_images": v,
                "ss_num_reg_images": v, "ss_num_epochs": v, "ss_max_train_steps": v, "ss_num_batches_per_epoch": v,
                "ss_batch_size_per_device": v, "ss_resolution": f"({v}, {v})", "ss_gradient_accumulation_steps": v,
                "ss_dataset_dirs": json.dumps({"10_sks dog": {"n_repeats": v, "img_count": v}}),
                "ss_reg_dataset_dirs": json.dumps({"1_dog": {"n_repeats": v, "img_count": v}}),
                "ss_tag_frequency": json.dumps({"10_sks dog": {"sks dog": v}})}
        lf = lora_file(meta, f"num_{re.sub('[^a-z0-9]', '_', v)}.safetensors")
        case(cls, f"inspect metadata = {v}", ["inspect", lf], rc_ok={0, 1, 2}, check=one_line)
        case(cls, f"inspect compare metadata = {v}", ["inspect", lf, "--train", tr, "--reg", rg], rc_ok={0, 1, 2},
             check=one_line)
        case(cls, f"inspect --json metadata = {v}", ["inspect", "--json", lf], rc_ok={0, 1, 2}, check=one_line)
        meta2 = {"ss_base_model_version": "sdxl_base_v1-0", "ss_network_module": "networks.lora",
                 "ss_datasets": json.dumps([{"is_dreambooth": True, "batch_size_per_device": v, "num_train_images": v,
                                             "num_reg_images": v, "resolution": [v, v], "enable_bucket": True,
                                             "subsets": [{"image_dir": "10_sks dog", "num_repeats": v,
                                                          "img_count": v, "class_tokens": "sks dog",
                                                          "keep_tokens": v, "is_reg": False}]}]),
                 "ss_num_epochs": v, "ss_max_train_steps": v}
        lf = lora_file(meta2, f"num2_{re.sub('[^a-z0-9]', '_', v)}.safetensors")
        case(cls, f"inspect compare ss_datasets = {v}", ["inspect", lf, "--train", tr, "--reg", rg], rc_ok={0, 1, 2},
             check=one_line)
    # fine-tuning numbers in --in_json
    ft = f"{H}/fx/ft"
    os.makedirs(f"{ft}/img", exist_ok=True)
    fx.img(f"{ft}/img/a.png", seed=1)
    for v in ["Infinity", "NaN", "1e309", "-1", "1e23", "100000000000000000000000000000"]:
        open(f"{ft}/meta.json", "w").write('{"a": {"caption": "x", "image_size": [%s, %s]}}' % (v, v))
        case(cls, f"fine_tune --in_json image_size [{v}]", ["balance", "fine_tune.py", "--train_data_dir", f"{ft}/img",
                                                            "--in_json", f"{ft}/meta.json", "--resolution", "512",
                                                            "--dataset_repeats", "2"], rc_ok=ok, check=one_line)
        case(cls, f"fine_tune --dataset_repeats {v}", ["balance", "fine_tune.py", "--train_data_dir", f"{ft}/img",
                                                       "--in_json", f"{ft}/meta.json", "--resolution", "512",
                                                       "--dataset_repeats", v.replace("Infinity", "inf")], rc_ok=ok,
             check=one_line)


# ---------------------------------------------------------------------------------------------- class 5
def c5_sparse_caption():
    cls = "5-sparse-caption"
    variants = {
        "plain": ("a.caption", b""),
        "bom+crlf": ("a.caption", b"\xef\xbb\xbfsks dog\r\nsecond\r\n"),
        "multiline": ("a.caption", b"sks dog\nsecond line\n"),
        "txt (RA026 rename)": ("a.txt", b"sks dog"),
    }
    od = f"{H}/tmp/c5"
    for vname, (cap, head) in variants.items():
        d = f"{FX}/sparse_{re.sub('[^a-z0-9]', '', vname)}"
        if not os.path.exists(d + "/.done"):
            fx.sd_tree(d)
            os.unlink(f"{d}/train/10_sks dog/a.caption")
            fx.sparse(f"{d}/train/10_sks dog/{cap}", 1 << 30, head)
            # a reg caption too
            fx.sparse(f"{d}/reg/1_dog/r0.caption", 1 << 30, head)
        tr, rg = f"{d}/train", f"{d}/reg"
        base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
        cmds = [c for c in sd_cmds(d) if not c[0].startswith("rules")]
        if vname != "plain":
            cmds = [c for c in cmds if c[0] in ("scan", "captions", "fix (plan)", "fix --unsafe-fixes (plan)", "check")]
        for label, argv in cmds:
            if vname == "txt (RA026 rename)":
                argv = argv + ["--caption_extension", ".caption"]
            case(cls, f"{label} [{vname}]", argv, rc_ok={0, 1, 2} if label != "smoke" else {2}, check=one_line)
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)
        case(cls, f"report -o [{vname}]", ["report", *base, "--no-cache", "-o", f"{od}/r.html"], rc_ok={0})
        for fl, extra in [("fix --out", []), ("fix --out --unsafe-fixes", ["--unsafe-fixes"])]:
            def chk(res, o=f"{od}/fx{len(extra)}"):
                if not os.path.isdir(o):
                    return None
                du = subprocess.run(["du", "-sk", o], capture_output=True, text=True).stdout.split()[0]
                return (f"copy uses {du} KB on disk" if int(du) > 200_000 else None, f"copy {du} KB")
            case(cls, f"{fl} [{vname}]", ["fix", *base, *extra, "--out", f"{od}/fx{len(extra)}"], rc_ok={0, 1},
                 check=chk)
        case(cls, f"inspect compare [{vname}]", ["inspect", lora_file(), *base], rc_ok={0, 1})
        case(cls, f"check --dupes --format junit [{vname}]", ["check", *base, "--dupes", "--no-cache", "--format",
                                                             "junit"], rc_ok={0, 1})
    shutil.rmtree(od, ignore_errors=True)
    if os.environ.get("SKIP5A"):
        pass
    # musubi: a 1 GiB caption
    m = f"{FX}/msparse"
    if not os.path.exists(m + "/.done"):
        fx.musubi_tree(m)
        os.unlink(f"{m}/img/a.txt")
        fx.sparse(f"{m}/img/a.txt", 1 << 30, b"sks dog ")
    for label, argv in mus_cmds(m):
        case(cls, label, argv, rc_ok={0, 1})
    os.makedirs(od, exist_ok=True)
    case(cls, "musubi report -o", ["report", "qwen_image_train_network.py", "--dataset_config", f"{m}/ds.toml",
                                   "-o", f"{od}/m.html"], rc_ok={0})
    # fine-tuning: a caption that is a 1 GiB sparse file beside the metadata; metadata caption huge
    ft = f"{FX}/ftsparse"
    if not os.path.exists(ft + "/.done"):
        os.makedirs(f"{ft}/img", exist_ok=True)
        fx.img(f"{ft}/img/a.png", seed=1)
        fx.sparse(f"{ft}/img/a.caption", 1 << 30, b"x")
        with open(f"{ft}/meta.json", "w") as f:
            f.write('{"%s/img/a.png": {"caption": "%s", "tags": "t"}}' % (ft, "a, " * (20 << 20)))
        open(ft + "/.done", "w").close()
    for cmd in (["scan", "balance", "captions", "fix"] if os.environ.get("FT_ALL") else ["balance"]):
        case(cls, f"fine_tune {cmd} (60 MB caption in --in_json)", [cmd, "fine_tune.py", "--train_data_dir",
                                                                  f"{ft}/img", "--in_json", f"{ft}/meta.json",
                                                                  "--resolution", "512", "--cache_latents"],
             rc_ok={0, 1, 2}, check=one_line)
    if os.environ.get("FT_ALL"): case(cls, "fine_tune fix --out (60 MB caption in --in_json)", ["fix", "fine_tune.py", "--train_data_dir",
                                                                  f"{ft}/img", "--in_json", f"{ft}/meta.json",
                                                                  "--resolution", "512", "--out", f"{od}/ftfix"],
         rc_ok={0, 1, 2}, check=one_line)
    # a 1 GiB sparse image in report/fix/scan --deep/smoke
    d = f"{FX}/sparseimg"
    if not os.path.exists(d + "/.done"):
        fx.sd_tree(d)
        png = open(f"{d}/train/10_sks dog/a.png", "rb").read()
        fx.sparse(f"{d}/train/10_sks dog/huge.png", 1 << 30, png[:-12])  # IEND cut: zeros follow
        fx.sparse(f"{d}/train/10_sks dog/huge2.jpg", 1 << 30, open(f"{d}/train/10_sks dog/b.jpg", "rb").read()[:-2])
    base = ["--train_data_dir", f"{d}/train", "--reg_data_dir", f"{d}/reg", "--resolution", "512"]
    shutil.rmtree(od, ignore_errors=True)
    os.makedirs(od)
    for label, argv in [("scan --deep", ["scan", *base, "--deep"]), ("report", ["report", *base, "--no-cache", "-o",
                                                                               f"{od}/r.html"]),
                        ("fix --out", ["fix", *base, "--out", f"{od}/f1"]),
                        ("fix --out --unsafe-fixes", ["fix", *base, "--unsafe-fixes", "--out", f"{od}/f2"]),
                        ("dupes", ["dupes", *base, "--no-cache"]), ("smoke", ["smoke", *base]),
                        ("check --deep --dupes", ["check", *base, "--deep", "--dupes", "--no-cache"])]:
        case(cls, f"{label} [1 GiB sparse image]", argv, rc_ok={0, 1, 2}, check=one_line)
    shutil.rmtree(od, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- class 6
def c6_long_paths():
    cls = "6-long-paths"
    base_dir = f"{FX}/long"
    deep = fx.long_sd_tree(base_dir)
    tr, rg = f"{deep}/train", f"{deep}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
    od = f"{H}/tmp/c6"
    shutil.rmtree(od, ignore_errors=True)
    os.makedirs(od)
    for label, argv in sd_cmds(deep):
        if label in ("scan dataset_config", "balance pasted"):
            continue
        def chk(res, label=label):
            s = (res.out + res.err).decode("utf-8", "replace")
            if label.startswith("rules"):
                return one_line(res)
            # a root longer than PATH_MAX: sd-scripts' Path.is_dir raises ENAMETOOLONG and the run stops at
            # build (oracle, sd-scripts 48d368f): regaudit must say exactly that, as RA013
            if "RA013" in s and "File name too long" in s and res.rc in (0, 1):
                return one_line(res) if res.err.strip() and b"Traceback" in res.err else None
            if "File name too long" in s or "ENAMETOOLONG" in s:
                return "File name too long in output"
            if "does not exist" in s or "No data found" in s or "no_data\": true" in s:
                return "an existing long-path folder reported missing / No data found"
            if label.startswith("dupes") and res.rc in (0, 1) and "--json" in label:
                doc = json.loads(res.out)
                if not any(g["kind"] == "exact" for g in doc["groups"]):
                    return "exact duplicate missed"
            return one_line(res)
        case(cls, label, argv, rc_ok={0, 1} if label != "smoke" else {2}, check=chk)
    def thumbs(res):
        p = f"{od}/r.html"
        if not os.path.exists(p):
            return "no page"
        n = open(p, encoding="utf-8").read().count('src="data:image/webp')
        return (None if n >= 6 else f"only {n} thumbnails", f"{n} thumbnails")
    case(cls, "report -o (thumbnails)", ["report", *base, "--no-cache", "-o", f"{od}/r.html"], rc_ok={0}, check=thumbs)
    case(cls, "fix --out", ["fix", *base, "--out", f"{od}/fixed"], rc_ok={0, 1})
    case(cls, "fix --out --unsafe-fixes", ["fix", *base, "--unsafe-fixes", "--out", f"{od}/fixed2"], rc_ok={0, 1})
    case(cls, "dupes --cache", ["dupes", *base, "--cache", f"{od}/h.sqlite"], rc_ok={0, 1})
    case(cls, "inspect compare", ["inspect", lora_file(), *base], rc_ok={0, 1})
    # a dataset config naming long image_dirs
    cfg = f"{od}/ds.toml"
    open(cfg, "w").write(f'[general]\nresolution = 512\n[[datasets]]\n[[datasets.subsets]]\nimage_dir = "{tr}/10_sks dog"\n'
                         f'num_repeats = 2\nclass_tokens = "sks dog"\n[[datasets.subsets]]\nimage_dir = "{rg}/1_dog"\n'
                         f'is_reg = true\n')
    for cmd in ["scan", "balance", "captions", "dupes", "fix"]:
        case(cls, f"{cmd} --dataset_config (long image_dir)", [cmd, "--dataset_config", cfg, "--no-cache"]
             if cmd == "dupes" else [cmd, "--dataset_config", cfg], rc_ok={0, 1})
    case(cls, "fix --dataset_config --out", ["fix", "--dataset_config", cfg, "--out", f"{od}/fixed3"], rc_ok={0, 1})
    case(cls, "report --dataset_config -o", ["report", "--dataset_config", cfg, "-o", f"{od}/r2.html", "--no-cache"],
         rc_ok={0})
    # musubi: long image_directory/cache_directory
    mt = f"{od}/m.toml"
    open(mt, "w").write(f'[general]\nresolution = [512, 512]\ncaption_extension = ".txt"\n[[datasets]]\n'
                        f'image_directory = "{deep}/mimg"\ncache_directory = "{deep}/mcache"\n')
    for label, argv in mus_cmds():
        argv = [a if a != f"{MUS}/ds.toml" else mt for a in argv]
        case(cls, label, argv, rc_ok={0, 1}, check=lambda r: "File name too long" if b"too long" in r.out + r.err else None)
    case(cls, "musubi report -o", ["report", "qwen_image_train_network.py", "--dataset_config", mt, "-o",
                                   f"{od}/m.html"], rc_ok={0},
         check=lambda r: None if open(f"{od}/m.html").read().count('src="data:image/webp') >= 1 else "no thumbnail")
    # outputs at a long path: -o, --out, cache, summary (parent exists: built relative)
    case(cls, "report -o LONG", ["report", *base, "--no-cache", "-o", f"{deep}/out.html"], rc_ok={0, 2}, check=one_line)
    case(cls, "check -o LONG", ["check", *base, "-o", f"{deep}/out.txt"], rc_ok={0, 1, 2}, check=one_line)
    case(cls, "fix --out LONG", ["fix", *base, "--out", f"{deep}/fixed"], rc_ok={0, 1, 2}, check=one_line)
    case(cls, "dupes --cache LONG", ["dupes", *base, "--cache", f"{deep}/h.sqlite"], rc_ok={0, 1, 2}, check=one_line)
    case(cls, "check GITHUB_STEP_SUMMARY LONG", ["check", *base], rc_ok={0, 1, 2}, check=one_line,
         env=base_env(GITHUB_STEP_SUMMARY=f"{deep}/sum.md"))
    case(cls, "check --policy LONG", ["check", *base, "--policy", f"{deep}/p.yaml"], rc_ok={2}, check=one_line)
    case(cls, "XDG_CACHE_HOME LONG dupes", ["dupes", *base], rc_ok={0, 1}, env=base_env(XDG_CACHE_HOME=deep))
    case(cls, "inspect LONG lora", ["inspect", f"{deep}/no.safetensors"], rc_ok={2}, check=one_line)
    # relative path from a cwd deep inside: cwd itself longer than PATH_MAX
    def pre():
        os.chdir(base_dir)
        for p in deep[len(base_dir) + 1:].split("/"):
            os.chdir(p)
    for label, argv in [("scan rel (cwd > 4096)", ["scan", "train", "--reg", "reg"]),
                        ("balance rel", ["balance", "train", "--reg", "reg", "--resolution", "512"]),
                        ("dupes rel", ["dupes", "train", "--reg", "reg", "--no-cache"]),
                        ("captions rel", ["captions", "train", "--reg", "reg"]),
                        ("check rel", ["check", "train", "--reg", "reg"]),
                        ("report rel (default report.html)", ["report", "train", "--no-cache", "-o", f"{od}/r3.html"]),
                        ("fix rel --out ABS", ["fix", "train", "--out", f"{od}/fixed4"])]:
        case(cls, label, argv, rc_ok={0, 1, 2}, pre=pre, check=lambda r: one_line(r) or (
            "reported missing / No data found" if b"does not exist" in r.out + r.err or b"No data found" in r.out else None))
    shutil.rmtree(od, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- class 7
def c7_columns():
    cls = "7-columns"
    envs = [{"COLUMNS": "0"}, {"COLUMNS": "-5"}, {"COLUMNS": "abc"}, {"COLUMNS": "1"}, {"COLUMNS": "5"}, {"COLUMNS": "99999"},
            {"LINES": "0"}, {"TERM": "dumb"}, {"COLUMNS": "1e309"}, {"COLUMNS": "99999999999999999999999"}]
    cmds = [c for c in sd_cmds() + mus_cmds() if "--json" not in c[0] and "junit" not in c[0]] + \
        [("inspect", ["inspect", lora_file()]), ("inspect compare", ["inspect", lora_file(), f"{SD}/train"]),
         ("scan missing (exit 2)", ["scan", "/nonexistent/x"]), ("rules RA999 (exit 2)", ["rules", "RA999"])]
    for e in envs:
        for label, argv in cmds:
            def chk(res):
                if res.rc == 2 and not res.err.strip():
                    return "exit 2 with an empty message"
                if res.rc in (0, 1) and not res.out.strip():
                    return "empty output"
                if res.rc in (0, 1) and "github" not in label:
                    lines = [ln for ln in res.out.decode("utf-8", "replace").splitlines() if ln.strip()]
                    head = " ".join(lines[:3])
                    readable = re.findall(r"[A-Za-z]{3,}", head)
                    if len(readable) < 2:
                        return f"output unreadable at this width: first lines {head[:60]!r}"
                if res.rc in (0, 1) and "COLUMNS" in e and e["COLUMNS"] in ("99999", "99999999999999999999999") and \
                        len(res.out) > 2_000_000:
                    return f"output {len(res.out)} B (padded to width?)"
                return None
            case(cls, f"{label} {e}", argv, rc_ok={0, 1, 2}, check=chk, env=base_env(**e))
    # the width through a pty (a terminal): COLUMNS nonsense with a real tty
    for e in envs[:5]:
        label = f"scan on a pty {e}"
        res = pty_run(["scan", f"{SD}/train", "--reg", f"{SD}/reg"], base_env(**e))
        probs = generic(res)
        if not res.out.strip():
            probs.append("empty output on a pty")
        record(cls, label, res, probs)


def pty_run(argv, env):
    import pty
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(RA, [RA, *argv], env)
    chunks = []
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    _, st, ru = os.wait4(pid, 0)
    out = b"".join(chunks)
    return Res(os.waitstatus_to_exitcode(st), out, out if b"Traceback" in out else b"", time.monotonic() - t0,
               ru.ru_maxrss / 1024)


# ---------------------------------------------------------------------------------------------- class 8
def c8_signals():
    cls = "8-signals"
    b = fx.big_tree(f"{FX}/big")
    base = ["--train_data_dir", f"{b}/train", "--resolution", "512"]
    od = f"{H}/tmp/c8"
    jobs = [
        ("report -o", ["report", *base, "--no-cache", "-o", f"{od}/r.html"], "r.html"),
        ("check -o", ["check", *base, "--deep", "-o", f"{od}/c.txt"], "c.txt"),
        ("check --format junit -o", ["check", *base, "--deep", "--format", "junit", "-o", f"{od}/c.xml"], "c.xml"),
        ("fix --out", ["fix", *base, "--out", f"{od}/fixed"], "fixed"),
        ("fix --out --hardlink", ["fix", *base, "--hardlink", "--out", f"{od}/fixed"], "fixed"),
        ("fix --out --unsafe-fixes", ["fix", *base, "--unsafe-fixes", "--out", f"{od}/fixed"], "fixed"),
        ("dupes --cache", ["dupes", *base, "--cache", f"{od}/h.sqlite"], "h.sqlite"),
        ("check --dupes -o", ["check", *base, "--dupes", "--cache", f"{od}/h2.sqlite", "-o", f"{od}/c2.txt"], "c2.txt"),
    ]
    for sig, want in [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, None)]:
        for label, argv, name in jobs:
            if sig == signal.SIGHUP and not label.startswith(("report", "fix --out", "check -o")):
                continue
            shutil.rmtree(od, ignore_errors=True)
            os.makedirs(od)
            res, note = signal_run(argv, od, sig)
            left = [n for n in os.listdir(od) if n.endswith(".tmp") or ".tmp" in n or ".old." in n]
            probs = [p for p in generic(res) if not p.startswith("slow")]
            if want and res.rc != want and res.rc not in (0, 1):
                probs.append(f"exit {res.rc}, want {want}")
            if left:
                probs.append(f"temp left: {left}")
            record(cls, f"{label} + {signal.Signals(sig).name} {note}", res, probs,
                   f"rc {res.rc}; folder: {sorted(os.listdir(od))[:5]}")
    # SIGKILL, then the next run cleans regaudit's own temp files
    for label, argv, name in jobs[:6]:
        shutil.rmtree(od, ignore_errors=True)
        os.makedirs(od)
        res, note = signal_run(argv, od, signal.SIGKILL)
        left1 = sorted(n for n in os.listdir(od) if ".tmp" in n)
        # a stray user file with a similar name must survive
        open(f"{od}/.{name}.userfile.tmp", "w").write("mine")
        res2 = _wrapped(argv + (["--force"] if label.startswith(("report", "check")) else []), timeout=120)
        left2 = sorted(n for n in os.listdir(od) if ".tmp" in n and "userfile" not in n)
        probs = generic(res2)
        if left2:
            probs.append(f"temp files left after the next run: {left2}")
        if not os.path.exists(f"{od}/.{name}.userfile.tmp"):
            probs.append("a user's file was removed")
        record(cls, f"{label} SIGKILL {note} then rerun", res2, probs, f"after kill: {left1[:3]}")
    shutil.rmtree(od, ignore_errors=True)


def signal_run(argv, od, sig):
    env = base_env()
    t0 = time.monotonic()
    p = subprocess.Popen([RA, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL,
                         preexec_fn=lambda: [signal.signal(s_, signal.SIG_DFL) for s_ in (signal.SIGINT, signal.SIGHUP)])
    # wait for a temp file/folder to appear in od, then 0.3 s more
    note = "after 3 s (no temp seen)"
    while time.monotonic() - t0 < 30:
        if p.poll() is not None:
            note = "(finished before the signal)"
            break
        if any(".tmp" in n for n in os.listdir(od)):
            time.sleep(0.3 if "--out" in argv else 0.0)
            note = f"at {time.monotonic() - t0:.1f} s (temp seen)"
            break
        time.sleep(0.02 if "--out" in argv else 0.0002)
    if p.poll() is None:
        if "no temp" in note:
            pass
        p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return Res(124, out, err, time.monotonic() - t0, 0, True), note
    return Res(p.returncode if p.returncode >= 0 else 128 - p.returncode, out, err, time.monotonic() - t0, 0), note


# ---------------------------------------------------------------------------------------------- class 9
def c9_names():
    cls = "9-names"
    d = fx.odd_tree(f"{FX}/odd")
    tr, rg = f"{d}/train", f"{d}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
    od = f"{H}/tmp/c9"
    shutil.rmtree(od, ignore_errors=True)
    os.makedirs(od)
    raw_bad = [b"\x1b[2J", b"\x1b]0;", "\u202e".encode(), b"\x07", b"\x01"]

    def no_raw(res):
        for r in raw_bad:
            if r in res.out or r in res.err:
                return f"raw {r!r} in output"
        return None

    def js(res):
        try:
            json.loads(res.out)
        except Exception as e:  # noqa
            return f"invalid JSON: {e}"
        return None

    def junit(res):
        try:
            txt = res.out.decode("utf-8")
            ET.fromstring(txt.split("\n", 2)[2] if txt.startswith("<?xml") else txt)
        except Exception as e:  # noqa
            try:
                ET.fromstring(res.out)
            except Exception as e2:  # noqa
                return f"invalid XML: {e2}"
        return no_raw(res)

    def github(res):
        p = no_raw(res)
        if p:
            return p
        for ln in res.out.decode("utf-8", "replace").splitlines():
            if ln and not ln.startswith("::"):
                return f"a github line not starting with '::': {ln[:80]!r}"
        return None

    for label, argv in [("scan", ["scan", *base, "--images"]), ("balance", ["balance", *base, "--images"]),
                        ("dupes", ["dupes", *base, "--no-cache"]), ("captions", ["captions", *base, "--images"]),
                        ("check", ["check", *base, "--dupes", "--no-cache"]), ("fix (plan)", ["fix", *base, "--unsafe-fixes"]),
                        ("inspect compare", ["inspect", lora_file(), *base])]:
        case(cls, f"{label} human", argv, rc_ok={0, 1}, check=no_raw)
        if label not in ("inspect compare",):
            case(cls, f"{label} --json", argv + ["--json"], rc_ok={0, 1}, check=js)
    case(cls, "check --format junit", ["check", *base, "--dupes", "--no-cache", "--format", "junit"], rc_ok={0, 1},
         check=junit)
    case(cls, "check --format github", ["check", *base, "--dupes", "--no-cache", "--format", "github"], rc_ok={0, 1},
         check=github)
    case(cls, "check --format sarif (not a format)", ["check", *base, "--format", "sarif"], rc_ok={2}, check=one_line)
    case(cls, "check GITHUB_ACTIONS=true", ["check", *base], rc_ok={0, 1}, check=github,
         env=base_env(GITHUB_ACTIONS="true"))
    sm = f"{od}/summary.md"

    def md(res):
        if not os.path.exists(sm):
            return "no summary"
        t = open(sm, "rb").read()
        s = t.decode("utf-8", "replace")
        for bad in ["<script>", "<img src", "<b onclick", "\x1b", "\u202e"]:
            if bad in s:
                return f"raw {bad!r} in the job summary"
        # every table row: same number of unescaped pipes as the header
        rows = [ln for ln in s.splitlines() if ln.startswith("|")]
        if rows:
            n = len(re.findall(r"(?<!\\)\|", rows[0]))
            for ln in rows:
                if len(re.findall(r"(?<!\\)\|", ln)) != n:
                    return f"table row split by a pipe: {ln[:100]!r}"
        # backticks: code spans balanced per line
        for ln in s.splitlines():
            if len(re.findall(r"(?<!\\)`", ln)) % 2:
                return f"odd backticks in line: {ln[:100]!r}"
        return None
    for fmt in ["human", "json", "junit", "github"]:
        if os.path.exists(sm):
            os.unlink(sm)
        case(cls, f"check --format {fmt} + GITHUB_STEP_SUMMARY markdown", ["check", *base, "--dupes", "--no-cache",
                                                                           "--format", fmt], rc_ok={0, 1}, check=md,
             env=base_env(GITHUB_STEP_SUMMARY=sm))

    def html(res):
        p = f"{od}/r.html"
        if not os.path.exists(p):
            return "no page"
        s = open(p, encoding="utf-8", errors="replace").read()
        for bad in ["<script>alert", "<img src=x", "<b onclick", "\x1b", "\u202e"]:
            if bad in s:
                return f"raw {bad!r} in the page"
        return None
    case(cls, "report HTML", ["report", *base, "--no-cache", "-o", f"{od}/r.html"], rc_ok={0}, check=html)
    case(cls, "report HTML --lora", ["report", *base, "--no-cache", "-o", f"{od}/r.html", "--force", "--lora",
                                     lora_file()], rc_ok={0}, check=html)
    # leading '-' root, and output file names with odd characters
    dash = f"{od}/-train"
    shutil.copytree(f"{SD}/train", dash)
    case(cls, "scan -- -train (relative)", ["scan", "--", "-train"], rc_ok={0, 1}, cwd=od)
    case(cls, "scan --train -train", ["scan", "--train", "-train"], rc_ok={0, 1, 2}, check=one_line, cwd=od)
    case(cls, "scan -train (looks like an option)", ["scan", "-train"], rc_ok={2}, check=one_line, cwd=od)
    for nm in ["o\nut.html", "o\x1b[2Jut.html", "-o.html", "o\udcffut.html"]:
        case(cls, f"report -o {nm!r}", ["report", *base, "--no-cache", "-o", f"{od}/{nm}"], rc_ok={0},
             check=lambda r: no_raw(Res(r.rc, b"", r.err, 0, 0)))
    # musubi with odd names
    m = f"{FX}/modd"
    if not os.path.exists(m + "/.done"):
        fx.musubi_tree(m)
        for i, n in enumerate(fx.ODD):
            fx.img(f"{m}/img/{n}.png", seed=600 + i)
            fx.text(f"{m}/img/{n}.txt", f"cap {n} <script>x</script>")
        fx.img(os.fsdecode(os.fsencode(m) + b"/img/\xff\xfe.png"), seed=700)
    for label, argv in mus_cmds(m):
        chk = js if "--json" in label else junit if "junit" in label else github if "github" in label else no_raw
        case(cls, label, argv, rc_ok={0, 1}, check=chk)
    if os.path.exists(sm):
        os.unlink(sm)
    case(cls, "musubi check summary markdown", ["check", "qwen_image_train_network.py", "--dataset_config",
                                                f"{m}/ds.toml"], rc_ok={0, 1}, check=md,
         env=base_env(GITHUB_STEP_SUMMARY=sm))
    case(cls, "musubi report HTML", ["report", "qwen_image_train_network.py", "--dataset_config", f"{m}/ds.toml",
                                     "-o", f"{od}/r.html", "--force"], rc_ok={0}, check=html)
    # inspect: metadata with hostile strings
    meta = {"ss_base_model_version": "sd_v1\x1b[2J", "ss_network_module": "<script>alert(1)</script>",
            "ss_output_name": "\u202eevil", "ss_dataset_dirs": json.dumps({"10_sks \x1b[31mdog\n|x": {"n_repeats": 1,
                                                                                                  "img_count": 1}}),
            "ss_tag_frequency": json.dumps({"10_sks \x1b[31mdog\n|x": {"\x1b]0;pwn\x07": 3}})}
    lf = lora_file(meta, "odd.safetensors")
    case(cls, "inspect hostile metadata", ["inspect", lf], rc_ok={0, 1}, check=no_raw)
    case(cls, "inspect hostile metadata --json", ["inspect", "--json", lf], rc_ok={0, 1}, check=js)
    case(cls, "report --lora hostile metadata", ["report", *base, "--no-cache", "-o", f"{od}/r.html", "--force",
                                                 "--lora", lf], rc_ok={0}, check=html)
    # a fix --out copy of the odd tree
    case(cls, "fix --out (odd names)", ["fix", *base, "--unsafe-fixes", "--out", f"{od}/fixed"], rc_ok={0, 1},
         check=no_raw)
    case(cls, "fix --out --json (odd names)", ["fix", *base, "--json", "--out", f"{od}/fixed2"], rc_ok={0, 1}, check=js)
    shutil.rmtree(od, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- class 10
def _sqlite(path, *statements):
    """A SQLite file at ``path`` made by ``statements``."""
    db = sqlite3.connect(path)
    for st in statements:
        db.execute(st)
    db.commit()
    db.close()


def c10_cache():
    cls = "10-cache"
    tr, rg = f"{SD}/train", f"{SD}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
    import sqlite3

    def mk(kind, x):
        c = f"{x}/regaudit/hashes.sqlite"
        if os.path.isfile(x):
            os.unlink(x)
        shutil.rmtree(x, ignore_errors=True)
        os.makedirs(f"{x}/regaudit")
        if kind == "random":
            open(c, "wb").write(os.urandom(8192))
        elif kind == "zero bytes":
            open(c, "wb").close()
        elif kind == "directory":
            os.makedirs(c)
        elif kind == "fifo":
            os.mkfifo(c)
        elif kind == "symlink to /dev/urandom":
            os.symlink("/dev/urandom", c)
        elif kind == "dangling symlink":
            os.symlink("/nonexistent/x", c)
        elif kind == "old schema 3":
            _sqlite(c, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)", "INSERT INTO meta VALUES ('schema', '3')",
                    "CREATE TABLE hashes (path TEXT, params TEXT, size INT, mtime REAL, hash TEXT, "
                    "PRIMARY KEY (path, params))")
        elif kind == "old schema, weird schema value":
            _sqlite(c, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)", "INSERT INTO meta VALUES ('schema', '1e309')",
                    "CREATE TABLE hashes (path TEXT, params TEXT, PRIMARY KEY (path, params))")
        elif kind == "foreign sqlite":
            _sqlite(c, "CREATE TABLE t (x)")
        elif kind == "sqlite header then garbage":
            open(c, "wb").write(b"SQLite format 3\x00" + os.urandom(4096))
        elif kind == "regaudit dir is a file":
            shutil.rmtree(f"{x}/regaudit")
            open(f"{x}/regaudit", "w").write("x")
        elif kind == "read-only dir":
            os.chmod(f"{x}/regaudit", 0o500)
        elif kind == "XDG is a file":
            shutil.rmtree(x)
            open(x, "w").write("x")
        elif kind == "wal garbage":
            # a valid empty cache from a first run, then garbage -wal/-shm
            r = _wrapped(["dupes", *base], env=base_env(XDG_CACHE_HOME=x))
            open(c + "-wal", "wb").write(os.urandom(10000))
            open(c + "-shm", "wb").write(os.urandom(32768))
        elif kind == "truncated real cache":
            _wrapped(["dupes", *base], env=base_env(XDG_CACHE_HOME=x))
            with open(c, "r+b") as f:
                f.truncate(1000)
        return c
    kinds = ["random", "zero bytes", "directory", "fifo", "symlink to /dev/urandom", "dangling symlink", "old schema 3",
             "old schema, weird schema value", "foreign sqlite", "sqlite header then garbage", "regaudit dir is a file",
             "read-only dir", "XDG is a file", "wal garbage", "truncated real cache"]
    for kind in kinds:
        for label, argv in [("dupes", ["dupes", *base]), ("check --dupes", ["check", *base, "--dupes"]),
                            ("report", ["report", *base, "-o", f"{H}/tmp/c10.html", "--force"])]:
            x = f"{H}/tmp/xdg10"
            if os.path.exists(x):
                subprocess.run(["chmod", "-R", "u+w", x])
            mk(kind, x)

            def chk(res):
                errl = [ln for ln in res.err.decode("utf-8", "replace").splitlines() if ln.strip() and not ln.startswith("wrote")]
                if res.rc == 2:
                    return "exit 2 for a damaged default cache"
                if label == "dupes" and len(errl) > 2:
                    return f"{len(errl)} stderr lines"
                return None
            case(cls, f"{label} [{kind}]", argv, rc_ok={0, 1}, check=chk, env=base_env(XDG_CACHE_HOME=x), timeout=30)
    subprocess.run(["chmod", "-R", "u+w", f"{H}/tmp/xdg10"])
    # an explicit --cache that is not regaudit's: exit 2, untouched
    for kind in ["random", "foreign sqlite", "fifo"]:
        x = f"{H}/tmp/xdg10"
        c = mk(kind, x)
        before = open(c, "rb").read() if kind != "fifo" else b""
        case(cls, f"dupes --cache [{kind}] (explicit)", ["dupes", *base, "--cache", c], rc_ok={2},
             check=lambda r: one_line(r) or (None if kind == "fifo" or open(c, "rb").read() == before else "changed"),
             timeout=30)
    # HOME/XDG odd
    for e in [{"HOME": None, "XDG_CACHE_HOME": None}, {"HOME": "/nonexistent", "XDG_CACHE_HOME": None},
              {"XDG_CACHE_HOME": ""}, {"XDG_CACHE_HOME": "relative/dir"}, {"HOME": "/dev/null", "XDG_CACHE_HOME": None},
              {"XDG_CACHE_HOME": "/proc"}]:
        case(cls, f"dupes env {e}", ["dupes", *base], rc_ok={0, 1}, env=base_env(**e), cwd=f"{H}/tmp")


# ---------------------------------------------------------------------------------------------- class 11
def c11_big():
    cls = "11-big-inputs"
    d = f"{FX}/big11"
    os.makedirs(d, exist_ok=True)
    tr, rg = f"{SD}/train", f"{SD}/reg"
    base = ["--train_data_dir", tr, "--reg_data_dir", rg, "--resolution", "512"]
    import struct
    # safetensors
    loras = {}
    p = f"{d}/len2_63.safetensors"
    open(p, "wb").write(struct.pack("<Q", 1 << 63) + b"{}")
    loras["length 2^63"] = p
    p = f"{d}/len_max.safetensors"
    open(p, "wb").write(struct.pack("<Q", (1 << 64) - 1) + b"{}")
    loras["length 2^64-1"] = p
    p = f"{d}/sparse8g.safetensors"
    fx.sparse(p, 8 << 30, struct.pack("<Q", (8 << 30) - 8) + b"{")
    loras["8 GiB sparse, header claims 8 GiB"] = p
    p = f"{d}/sparse8g_b.safetensors"
    fx.sparse(p, 8 << 30, struct.pack("<Q", 100 << 20) + b'{"__metadata__": {"ss_x": "')
    loras["8 GiB sparse, header 100 MB of zeros"] = p
    p = f"{d}/deep.safetensors"
    blob = b"[" * 200000 + b"]" * 200000
    open(p, "wb").write(struct.pack("<Q", len(blob)) + blob)
    loras["header: 200k nested arrays"] = p
    p = f"{d}/deepmeta.safetensors"
    open(p, "wb").write(fx.safetensors_header({"ss_base_model_version": "sd_v1", "ss_tag_frequency": "[" * 100000 + "]" * 100000,
                                                "ss_datasets": "[" * 100000 + "]" * 100000,
                                                "ss_dataset_dirs": "{\"a\":" * 50000 + "1" + "}" * 50000}))
    loras["metadata: deep nested JSON strings"] = p
    p = f"{d}/manytags.safetensors"
    open(p, "wb").write(fx.safetensors_header({"ss_base_model_version": "sd_v1", "ss_tag_frequency": json.dumps(
        {"10_sks dog": {f"tag{i}": i for i in range(1_000_000)}})}))
    loras["metadata: 1M tags"] = p
    p = f"{d}/manydirs.safetensors"
    open(p, "wb").write(fx.safetensors_header({"ss_base_model_version": "sd_v1", "ss_dataset_dirs": json.dumps(
        {f"{i}_x{i}": {"n_repeats": 1, "img_count": 1} for i in range(200_000)})}))
    loras["metadata: 200k dataset dirs"] = p
    p = f"{d}/manydatasets.safetensors"
    open(p, "wb").write(fx.safetensors_header({"ss_base_model_version": "sd_v1", "ss_datasets": json.dumps(
        [{"is_dreambooth": True, "subsets": [{"image_dir": f"{i}_x", "num_repeats": 1, "img_count": 1}]}
         for i in range(100_000)])}))
    loras["metadata: 100k ss_datasets"] = p
    p = f"{d}/notjson.safetensors"
    open(p, "wb").write(struct.pack("<Q", 8) + b"\xff\xfe\x00\x00abcd")
    loras["header not UTF-8"] = p
    p = f"{d}/fifo.safetensors"
    if not os.path.exists(p):
        os.mkfifo(p)
    loras["a FIFO"] = p
    p = f"{d}/devzero.safetensors"
    if not os.path.lexists(p):
        os.symlink("/dev/zero", p)
    loras["symlink to /dev/zero"] = p
    for name, p in ({} if os.environ.get("SKIP_INSPECT11") else loras).items():
        case(cls, f"inspect [{name}]", ["inspect", p], rc_ok={0, 1, 2}, check=one_line, timeout=40)
        if name in ("metadata: deep nested JSON strings", "metadata: 1M tags", "metadata: 100k ss_datasets",
                    "length 2^63", "metadata: 200k dataset dirs"):
            case(cls, f"inspect compare [{name}]", ["inspect", p, *base], rc_ok={0, 1, 2}, check=one_line, timeout=40)
            case(cls, f"inspect --json [{name}]", ["inspect", "--json", p], rc_ok={0, 1, 2}, check=one_line, timeout=40)
            case(cls, f"report --lora [{name}]", ["report", *base, "--no-cache", "-o", f"{H}/tmp/c11.html", "--force",
                                                  "--lora", p], rc_ok={0, 1, 2}, check=one_line, timeout=40)
    # policy bombs
    bombs = {
        "billion laughs": "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                          "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                          "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\nrules: *h\n",
        "laughs under ignore": "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                               "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nignore: *e\n",
        "100k nested [": "ignore: " + "[" * 100000 + "]" * 100000 + "\n",
        "100k nested {": "training: " + "{a: " * 50000 + "1" + "}" * 50000 + "\n",
        "50 MB string": "ignore: ['" + "a" * (50 << 20) + "']\n",
        "1M ignore globs": "ignore:\n" + "".join(f"- 'x{i}/**/*'\n" for i in range(1_000_000)),
        "recursive alias": "a: &a [*a]\n",
        "python tag": "rules: !!python/object/apply:os.system ['echo PWNED']\n",
        "huge int key": "training: {resolution: " + "9" * 100000 + "}\n",
        "glob bomb": "ignore: ['" + "**/" * 2000 + "*']\n",
        "regex-like glob": "ignore: ['" + "[" * 5000 + "']\n",
    }
    for name, text in bombs.items():
        pol = policy_file(text, "bomb.yaml")
        case(cls, f"check --policy [{name}]", ["check", *base, "--policy", pol], rc_ok={0, 1, 2}, check=lambda r: (
            "PWNED executed" if b"PWNED" in r.out else one_line(r)), timeout=40)
    # regaudit.yaml in the cwd (implicit) being a bomb
    os.makedirs(f"{H}/tmp/c11cwd", exist_ok=True)
    open(f"{H}/tmp/c11cwd/regaudit.yaml", "w").write(bombs["billion laughs"])
    case(cls, "check implicit ./regaudit.yaml [billion laughs]", ["check", *base], rc_ok={0, 1, 2}, check=one_line,
         cwd=f"{H}/tmp/c11cwd")
    os.unlink(f"{H}/tmp/c11cwd/regaudit.yaml")
    # dataset config bombs
    cfgs = {}
    p = f"{d}/100k.toml"
    with open(p, "w") as f:
        f.write("[general]\nresolution = 512\n")
        for i in range(100_000):
            f.write(f'[[datasets]]\n[[datasets.subsets]]\nimage_dir = "{tr}/10_sks dog"\n')
    cfgs["100k [[datasets]] TOML (> 1 MiB)"] = p
    p = f"{d}/small_many.toml"
    with open(p, "w") as f:
        f.write("[general]\nresolution = 512\n")
        i = 0
        while f.tell() < (1 << 20) - 200:
            f.write('[[datasets]]\n[[datasets.subsets]]\nimage_dir="/x"\n')
            i += 1
    cfgs[f"just under 1 MiB: {i} [[datasets]] missing dirs"] = p
    p = f"{d}/small_many_real.toml"
    with open(p, "w") as f:
        f.write("[general]\nresolution = 512\n")
        i = 0
        s = f'[[datasets]]\n[[datasets.subsets]]\nimage_dir="{tr}/10_sks dog"\n'
        while f.tell() < (1 << 20) - 200:
            f.write(s)
            i += 1
    cfgs[f"just under 1 MiB: {i} [[datasets]] real dir"] = p
    p = f"{d}/big.json"
    json.dump({"datasets": [{"subsets": [{"image_dir": f"{tr}/10_sks dog"}]} for _ in range(100_000)],
               "general": {"resolution": 512}}, open(p, "w"))
    cfgs["100k datasets JSON (> 1 MiB)"] = p
    p = f"{d}/deep.json"
    open(p, "w").write("[" * 100000 + "]" * 100000)
    cfgs["JSON 100k nested ["] = p
    p = f"{d}/deep.toml"
    open(p, "w").write("a = " + "[" * 10000 + "]" * 10000 + "\n")
    cfgs["TOML 10k nested ["] = p
    p = f"{d}/deepinline.toml"
    open(p, "w").write("a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n")
    cfgs["TOML 3k nested inline tables"] = p
    p = f"{d}/longkey.toml"
    open(p, "w").write("a" * 900000 + " = 1\n")
    cfgs["TOML 900 KB key"] = p
    p = f"{d}/dotted.toml"
    open(p, "w").write("a" + ".a" * 200000 + " = 1\n")
    cfgs["TOML dotted key 200k deep"] = p
    p = f"{d}/headers.toml"
    open(p, "w").write("[" + "a." * 100000 + "a]\nx = 1\n")
    cfgs["TOML table header 100k deep"] = p
    p = f"{d}/bigstr.toml"
    open(p, "w").write('x = """' + "\\\\" * 8000 + '"""\n' + 'y = "' + "é" * 300000 + '"\n')
    cfgs["TOML 8k escaped backslash pairs + 600 KB string"] = p
    for name, p in cfgs.items():
        for cmd in ["balance", "scan", "captions", "fix", "dupes"]:
            if cmd in ("captions", "fix", "dupes") and "under 1 MiB" not in name and "100k" not in name:
                continue
            argv = [cmd, "--dataset_config", p] + (["--no-cache"] if cmd == "dupes" else [])

            def chk(res, p=p, name=name):
                if "1 MiB" in name and "under" not in name and res.rc != 2:
                    return f"not refused (exit {res.rc})"
                if res.rc == 2 and os.path.basename(p) not in res.err.decode("utf-8", "replace"):
                    return "the error does not name the file"
                return one_line(res)
            case(cls, f"{cmd} --dataset_config [{name}]", argv, rc_ok={0, 1, 2}, check=chk, timeout=60)
        case(cls, f"balance --config_file [{name}] (as config_file)", ["balance", "train_network.py", "--config_file", p],
             rc_ok={0, 1, 2}, check=one_line, timeout=60)
    # report with the just-under-1MiB real-dir config
    p = f"{d}/small_many_real.toml"
    case(cls, "report --dataset_config [~1 MiB, many datasets]", ["report", "--dataset_config", p, "-o",
                                                                  f"{H}/tmp/c11.html", "--force", "--no-cache"],
         rc_ok={0, 1, 2}, check=one_line, timeout=90)
    case(cls, "check --format junit --dataset_config [~1 MiB]", ["check", "--dataset_config", p, "--format", "junit"],
         rc_ok={0, 1, 2}, check=one_line, timeout=90)
    case(cls, "check --dupes --dataset_config [~1 MiB]", ["check", "--dataset_config", p, "--dupes", "--no-cache"],
         rc_ok={0, 1, 2}, check=one_line, timeout=90)
    case(cls, "smoke --dataset_config [~1 MiB]", ["smoke", "--dataset_config", p], rc_ok={2}, check=one_line)
    # musubi TOML bombs
    p = f"{d}/m100k.toml"
    with open(p, "w") as f:
        f.write("[general]\nresolution = [512, 512]\ncaption_extension = '.txt'\n")
        for i in range(100_000):
            f.write(f'[[datasets]]\nimage_directory = "{MUS}/img"\ncache_directory = "{d}/mc{i}"\n')
    case(cls, "musubi balance [100k datasets > 1 MiB]", ["balance", "qwen_image_train_network.py", "--dataset_config",
                                                         p], rc_ok={2}, check=one_line, timeout=60)
    p = f"{d}/m_under.toml"
    with open(p, "w") as f:
        f.write("[general]\nresolution = [512, 512]\ncaption_extension = '.txt'\n")
        i = 0
        while f.tell() < (1 << 20) - 300:
            f.write(f'[[datasets]]\nimage_directory="{MUS}/img"\ncache_directory="{d}/mc{i}"\n')
            i += 1
    for cmd in ["balance", "scan", "check"]:
        case(cls, f"musubi {cmd} [~1 MiB, {i} datasets]", [cmd, "qwen_image_train_network.py", "--dataset_config", p],
             rc_ok={0, 1, 2}, check=one_line, timeout=90)
    case(cls, f"musubi report [~1 MiB, {i} datasets]", ["report", "qwen_image_train_network.py", "--dataset_config", p,
                                                        "-o", f"{H}/tmp/c11m.html", "--force"], rc_ok={0, 1, 2},
         check=one_line, timeout=90)
    # fine-tuning metadata bombs
    ft = f"{d}/ft"
    os.makedirs(f"{ft}/img", exist_ok=True)
    fx.img(f"{ft}/img/a.png", seed=3)
    metas = {}
    p = f"{ft}/m1m.json"
    with open(p, "w") as f:
        f.write("{")
        f.write(",".join(f'"k{i}.png": {{"caption": "c", "image_size": [512, 512]}}' for i in range(1_000_000)))
        f.write(', "a.png": {"caption": "x"}}')
    metas["1M keys"] = p
    p = f"{ft}/deep.json"
    open(p, "w").write('{"a.png": {"caption": ' + "[" * 100000 + "]" * 100000 + "}}")
    metas["deep nesting"] = p
    p = f"{ft}/deeptop.json"
    open(p, "w").write("[" * 200000 + "]" * 200000)
    metas["deep nesting at the top"] = p
    p = f"{ft}/m1m.jsonl"
    with open(p, "w") as f:
        for i in range(1_000_000):
            f.write(f'{{"image_key": "k{i}.png", "caption": "c"}}\n')
    metas["1M lines jsonl"] = p
    for name, p in metas.items():
        for cmd in ["scan", "balance", "captions", "fix"]:
            case(cls, f"fine_tune {cmd} --in_json [{name}]", [cmd, "fine_tune.py", "--train_data_dir", f"{ft}/img",
                                                             "--in_json", p, "--resolution", "512", "--cache_latents"],
                 rc_ok={0, 1, 2}, check=one_line, timeout=90)
    shutil.rmtree(f"{H}/tmp/c11fix", ignore_errors=True)
    case(cls, "fine_tune fix --out --in_json [1M keys]", ["fix", "fine_tune.py", "--train_data_dir", f"{ft}/img",
                                                          "--in_json", metas["1M keys"], "--resolution", "512",
                                                          "--out", f"{H}/tmp/c11fix"], rc_ok={0, 1, 2},
         check=one_line, timeout=90)
    case(cls, "fine_tune report --in_json [1M keys]", ["report", "fine_tune.py", "--train_data_dir", f"{ft}/img",
                                                       "--in_json", metas["1M keys"], "--resolution", "512",
                                                       "--cache_latents", "-o", f"{H}/tmp/c11.html", "--force",
                                                       "--no-cache"], rc_ok={0, 1, 2}, check=one_line, timeout=90)
    shutil.rmtree(f"{H}/tmp/c11fix", ignore_errors=True)
    # pasted command bombs
    for name, cmdline in [("100k args", "train_network.py " + " ".join(["--resolution 512"] * 100_000)),
                          ("1 MB quoted arg", 'train_network.py --train_data_dir "' + "a" * (1 << 20) + '"'),
                          ("unbalanced quotes", 'train_network.py --train_data_dir "abc'),
                          ("100k carets", "train_network.py " + "^\n" * 100000),
                          ("nested config_file loop", None)]:
        if cmdline is None:
            p = f"{d}/loop.toml"
            open(p, "w").write(f'config_file = "{p}"\ndataset_config = "{p}"\n')
            cmdline = f"train_network.py --config_file {p}"
        case(cls, f"balance pasted [{name}]", ["balance", cmdline], rc_ok={0, 1, 2}, check=one_line, timeout=60)


CLASSES = {"1": c1_short_writes, "2": c2_deleted_cwd, "3": c3_deep, "4": c4_numbers, "5": c5_sparse_caption,
           "6": c6_long_paths, "7": c7_columns, "8": c8_signals, "9": c9_names, "10": c10_cache, "11": c11_big}


def main():
    setup()
    which = sys.argv[1:] or list(CLASSES)
    for c in which:
        try:
            CLASSES[c]()
        except Exception as e:  # the campaign's own bug: say so, go on
            import traceback
            traceback.print_exc()
            print(f"CAMPAIGN-ERROR class {c}: {e!r}", flush=True)
    by = {}
    for status, cls, _ in RESULTS:
        by.setdefault(cls, [0, 0])[status == "FAIL"] += 1
    print("\nSUMMARY (pass/fail per class)")
    for cls in sorted(by, key=lambda s: int(s.split("-")[0])):
        print(f"  {cls}: {by[cls][0]} PASS, {by[cls][1]} FAIL")


if __name__ == "__main__":
    main()
