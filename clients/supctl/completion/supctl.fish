# fish completion for supctl(1): commands, options, and unit names from a running supd.
# Installed to share/fish/vendor_completions.d/supctl.fish.

function __supctl_units
    # the first column of `supctl status` without its header, from the socket on the line
    set -l tokens (commandline -opc)
    set -l sock
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case --socket
                set sock --socket $tokens[(math $i + 1)]
            case '--socket=*'
                set sock --socket (string replace -- --socket= '' $tokens[$i])
        end
    end
    supctl $sock status 2>/dev/null | awk 'NR > 1 && $1 != "" { print $1 }'
end

set -l cmds status start stop restart reset reload logs stats top metrics exec is-active is-failed kill cat pull images rmi load gc update drop-layer poweroff reboot version help
set -l unit_cmds status start stop restart reset reload logs stats exec is-active is-failed kill cat update drop-layer

complete -c supctl -f
complete -c supctl -l socket -r -F -d 'control socket'
complete -c supctl -l json -d 'JSON output'
complete -c supctl -l timeout -x -d 'give up on supd after'
complete -c supctl -l help -d help
complete -c supctl -l version -d version

complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a status -d 'state of units'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a start -d 'start units'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a stop -d 'stop units'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a restart -d 'restart units'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a reset -d 'clear a failed state'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a reload -d 're-read unit files'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a logs -d 'logs of units'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a stats -d 'resource use'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a top -d 'resource use, refreshed'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a metrics -d 'Prometheus text'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a exec -d 'run a command in a unit'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a is-active -d 'exit 0 if active'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a is-failed -d 'exit 0 if failed'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a kill -d 'signal a unit'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a cat -d 'print unit files'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a pull -d 'pull an image'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a images -d 'list images'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a rmi -d 'remove an image'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a load -d 'import an image tarball'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a update -d 'newest image of the tag'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a gc -d 'remove unused image data'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a drop-layer -d "drop a unit's writable layer"
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a poweroff -d 'power off'
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a reboot -d reboot
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a version -d versions
complete -c supctl -n "not __fish_seen_subcommand_from $cmds" -a help -d help

complete -c supctl -n "__fish_seen_subcommand_from $unit_cmds" -a '(__supctl_units)'
complete -c supctl -n "__fish_seen_subcommand_from start stop restart" -l no-wait -d 'do not wait'
complete -c supctl -n "__fish_seen_subcommand_from restart" -l pull -d 'pull the image first'
complete -c supctl -n "__fish_seen_subcommand_from logs" -s n -l lines -r -d 'lines to show'
complete -c supctl -n "__fish_seen_subcommand_from logs" -s f -l follow -d follow
complete -c supctl -n "__fish_seen_subcommand_from logs" -s t -l timestamps -d timestamps
complete -c supctl -n "__fish_seen_subcommand_from logs" -l no-timestamps -d 'no timestamps'
complete -c supctl -n "__fish_seen_subcommand_from logs" -s o -l output -x -a 'short short-precise short-iso short-iso-precise cat json' -d 'time format'
complete -c supctl -n "__fish_seen_subcommand_from is-active is-failed" -s q -l quiet -d 'print nothing'
complete -c supctl -n "__fish_seen_subcommand_from kill" -s s -l signal -r -d signal
complete -c supctl -n "__fish_seen_subcommand_from kill" -l all -d 'the whole cgroup'
complete -c supctl -n "__fish_seen_subcommand_from load" -F
complete -c supctl -n "__fish_seen_subcommand_from load" -l tag -r -d 'name the image'
complete -c supctl -n "__fish_seen_subcommand_from pull" -l platform -r -d 'os/arch[/variant]'
complete -c supctl -n "__fish_seen_subcommand_from pull" -s q -l quiet -d 'no progress'
complete -c supctl -n "__fish_seen_subcommand_from update" -l no-restart -d 'pin only'
