# Source this file (bash or zsh) to get the `bedrockctl` shell function:
#
#   bedrockctl activate <target>   remember a target (exports BEDROCKCTL_CONNECTION);
#                                  <target> is flock://<group file> or an address
#   bedrockctl deactivate          forget it
#   bedrockctl <command> ...       python3 -m mochi.bedrock.bedrockctl <command> ...
#
# When the `mochi` package sits beside this file (the source tree's python/
# directory), that directory is added to PYTHONPATH for the command.
# $BEDROCKCTL_PYTHON picks the interpreter (default: python3).

if [ -n "${BASH_VERSION:-}" ]; then
    _bedrockctl_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
elif [ -n "${ZSH_VERSION:-}" ]; then
    _bedrockctl_dir=$(cd "$(dirname "${(%):-%x}")" && pwd)
else
    _bedrockctl_dir=
fi
if [ -n "$_bedrockctl_dir" ] && [ -d "$_bedrockctl_dir/mochi/bedrock/bedrockctl" ]; then
    BEDROCKCTL_PYTHONPATH=$_bedrockctl_dir
else
    BEDROCKCTL_PYTHONPATH=
fi
unset _bedrockctl_dir

bedrockctl() {
    case "${1:-}" in
        activate)
            if [ $# -ne 2 ] || [ -z "$2" ]; then
                echo "usage: bedrockctl activate <target>" >&2
                return 2
            fi
            export BEDROCKCTL_CONNECTION="$2"
            ;;
        deactivate)
            unset BEDROCKCTL_CONNECTION
            ;;
        *)
            if [ -n "$BEDROCKCTL_PYTHONPATH" ]; then
                PYTHONPATH="$BEDROCKCTL_PYTHONPATH${PYTHONPATH:+:$PYTHONPATH}" \
                    "${BEDROCKCTL_PYTHON:-python3}" -m mochi.bedrock.bedrockctl "$@"
            else
                "${BEDROCKCTL_PYTHON:-python3}" -m mochi.bedrock.bedrockctl "$@"
            fi
            ;;
    esac
}
