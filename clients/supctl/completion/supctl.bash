# bash completion for supctl(1): commands, options, and unit names from a running supd.
# Installed to share/bash-completion/completions/supctl (loaded on first use).

_supctl_units()
{
	# the first column of `supctl status` without its header; nothing when supd is not there
	supctl ${_supctl_socket:+--socket "$_supctl_socket"} status 2>/dev/null |
		awk 'NR > 1 && $1 != "" { print $1 }'
}

_supctl()
{
	local cur prev words cword
	_init_completion || return

	local commands="status start stop restart reset reload logs stats top metrics exec
		is-active is-failed kill cat pull images rmi load gc update drop-layer poweroff reboot version help"
	local global="--socket --json --timeout --help --version"
	local _supctl_socket="" cmd="" i

	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket) _supctl_socket=${words[i + 1]}; ((i++)) ;;
		--socket=*) _supctl_socket=${words[i]#--socket=} ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${words[i]} ;;
		esac
	done

	case $prev in
	--socket) _filedir; return ;;
	-n | --lines) COMPREPLY=($(compgen -W "10 50 100 0" -- "$cur")); return ;;
	-o | --output)
		COMPREPLY=($(compgen -W "short short-precise short-iso short-iso-precise cat json" -- "$cur"))
		return ;;
	--timeout) COMPREPLY=($(compgen -W "500ms 10s 2min infinity" -- "$cur")); return ;;
	-s | --signal)
		COMPREPLY=($(compgen -W "$(kill -l | tr -s ' \t' '\n' | sed -n 's/^SIG//p')" -- "${cur#SIG}"))
		return ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local opts=""
	case $cmd in
	start | stop) opts="--no-wait" ;;
	restart) opts="--no-wait --pull" ;;
	logs) opts="-n --lines -f --follow -t --timestamps --no-timestamps -o --output" ;;
	is-active | is-failed) opts="-q --quiet" ;;
	kill) opts="-s --signal --all" ;;
	status | stats | images | metrics | rmi | gc) opts="--json" ;;
	pull) opts="--platform -q --quiet --json" ;;
	load) opts="--tag --json" ;;
	update) opts="--no-restart --json" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
		return
	fi
	case $cmd in
	status | start | stop | restart | reset | reload | logs | stats | exec | is-active | is-failed | kill | cat | update | drop-layer)
		COMPREPLY=($(compgen -W "$(_supctl_units)" -- "$cur")) ;;
	load) _filedir ;;
	help) COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
	esac
} && complete -F _supctl supctl
