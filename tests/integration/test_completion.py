"""Shell completion for supctl (clients/supctl/completion/): bash, zsh and fish complete the
commands, the options of a command, and unit names asked from a running supd.

Each shell is driven as a user's would be: bash through bash-completion's own loader and
COMP_WORDS, zsh in a pseudo-terminal (zsh/zpty) with compinit and a TAB, fish with
`complete -C`.
"""

import os
import shutil
import subprocess
import tempfile

from harness import IN_CI, SUPCTL, Fail, Supd, check, run_tests

HERE = os.path.dirname(os.path.abspath(__file__))
COMPLETION = os.path.normpath(os.path.join(HERE, "..", "..", "clients", "supctl", "completion"))
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
SLEEP = "[Service]\nExec=/bin/sleep 1000\n"
UNITS = {"alpha": SLEEP, "alpine-web": SLEEP, "beta": SLEEP}

# zsh: an interactive zsh in a pty; compadd is wrapped to print each candidate after \x01,
# ^X prints \x02 when the completion is over.
ZSH_INNER = r"""
PROMPT=
autoload -U compinit; compinit -u -D
zstyle ':completion:*' list-prompt ''
zstyle ':completion:*' select-prompt ''
compadd () {
  [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]] && { builtin compadd "$@"; return $? }
  typeset -a __hits
  builtin compadd -A __hits "$@"
  local h
  for h in $__hits; do print -r -- $'\x01'"$h"; done
}
end-of-list() { builtin zle -I; builtin print -r -- $'\x02' }
zle -N end-of-list
bindkey '^X' end-of-list
"""
ZSH_DRIVER = r"""
zmodload zsh/zpty
zpty z zsh -f -i
local line
zpty -w z "fpath=($1 \$fpath); source $2"
zpty -w z "$3"$'\t'$'\C-X'
while zpty -r z line; do
  [[ $line == *$'\x02'* ]] && break
  [[ $line == *$'\x01'* ]] && print -r -- "${${line#*$'\x01'}%$'\r'}"
done
zpty -d z
"""


def need(program):
    path = shutil.which(program)
    if path:
        return path
    if IN_CI:
        raise Fail(f"{program} missing (scripts/deps.sh test installs it)")
    print(f"note: {program} not installed; its completion not checked")
    return None


def env():
    e = dict(os.environ)
    e["PATH"] = os.path.dirname(os.path.abspath(SUPCTL)) + ":" + e.get("PATH", "/usr/bin:/bin") \
        if os.sep in SUPCTL else e.get("PATH", "/usr/bin:/bin")
    return e


def words(out):
    return sorted({w for w in out.split() if w})


def bash_complete(line):
    if not os.path.exists(BASH_COMPLETION):
        if IN_CI:
            raise Fail("bash-completion missing (scripts/deps.sh test installs it)")
        return None
    script = f"""
source {BASH_COMPLETION}
source {COMPLETION}/supctl.bash
COMP_LINE={line!r}
COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_supctl supctl "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                       env=env())
    check(r.returncode == 0, f"bash completion of {line!r}: {r.stderr}")
    return words(r.stdout)


def zsh_complete(line):
    if not need("zsh"):
        return None
    with tempfile.TemporaryDirectory() as d:
        inner, driver = os.path.join(d, "inner.zsh"), os.path.join(d, "driver.zsh")
        with open(inner, "w") as f:
            f.write(ZSH_INNER)
        with open(driver, "w") as f:
            f.write(ZSH_DRIVER)
        r = subprocess.run(["zsh", "-f", driver, COMPLETION, inner, line], capture_output=True,
                           text=True, timeout=60, env=env())
    check(r.returncode == 0, f"zsh completion of {line!r}: {r.stderr}")
    return words(r.stdout)


def fish_complete(line):
    if not need("fish"):
        return None
    r = subprocess.run(["fish", "--no-config", "-c",
                        f"source {COMPLETION}/supctl.fish; complete -C {line!r}"],
                       capture_output=True, text=True, timeout=30, env=env())
    check(r.returncode == 0, f"fish completion of {line!r}: {r.stderr}")
    # each line: candidate<TAB>description
    return sorted({l.split("\t")[0] for l in r.stdout.splitlines() if l})


SHELLS = {"bash": bash_complete, "zsh": zsh_complete, "fish": fish_complete}


def test_commands_and_options():
    for shell, complete in SHELLS.items():
        got = complete("supctl st")
        if got is None:
            continue
        check(got == ["start", "stats", "status", "stop"], f"{shell}: supctl st<TAB>: {got}")
        got = complete("supctl is-")
        check(got == ["is-active", "is-failed"], f"{shell}: supctl is-<TAB>: {got}")
        got = complete("supctl logs --f")
        check("--follow" in got, f"{shell}: supctl logs --f<TAB>: {got}")


def test_unit_names_from_a_running_supd():
    with Supd(UNITS) as s:
        for n in UNITS:
            s.wait_state(n, "running", timeout=10)
        for shell, complete in SHELLS.items():
            got = complete(f"supctl --socket {s.socket} restart al")
            if got is None:
                continue
            check(got == ["alpha", "alpine-web"], f"{shell}: restart al<TAB>: {got}")
            got = complete(f"supctl --socket {s.socket} logs ")
            check(set(UNITS) <= set(got), f"{shell}: logs <TAB>: {got}")


def test_no_supd_no_names_no_noise():
    for shell, complete in SHELLS.items():
        got = complete("supctl --socket /nonexistent/supd.sock start ")
        if got is None:
            continue
        check(got == [], f"{shell}: no supd, no names: {got}")


def test_cmake_install_puts_them_where_shells_look():
    build = os.path.dirname(os.path.abspath(SUPCTL)) if os.sep in SUPCTL else None
    if not build or not os.path.exists(os.path.join(build, "cmake_install.cmake")):
        if IN_CI:
            raise Fail(f"no build directory next to {SUPCTL}")
        return
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["cmake", "--install", build], env=dict(os.environ, DESTDIR=d),
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"cmake --install: {r.stdout}{r.stderr}")
        found = set()
        for root, _, files in os.walk(d):
            for f in files:
                found.add(os.path.relpath(os.path.join(root, f), d))
        for tail in ("share/bash-completion/completions/supctl",
                     "share/fish/vendor_completions.d/supctl.fish"):
            check(any(p.endswith(tail) for p in found), f"{tail} installed: {sorted(found)}")
        check(any(p.endswith(("share/zsh/vendor-completions/_supctl",
                              "share/zsh/site-functions/_supctl")) for p in found),
              f"_supctl installed: {sorted(found)}")


if __name__ == "__main__":
    run_tests([
        test_commands_and_options,
        test_unit_names_from_a_running_supd,
        test_no_supd_no_names_no_noise,
        test_cmake_install_puts_them_where_shells_look,
    ])
