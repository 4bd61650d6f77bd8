# Source this file (bash or zsh) to get the `bedrockctl` shell function:
#
#   bedrockctl activate <target>   remember a target (exports BEDROCKCTL_CONNECTION);
#                                  <target> is flock://<group file> or an address
#   bedrockctl deactivate          forget it
#   bedrockctl <command> ...       python3 -m mochi.bedrock.bedrockctl <command> ...
#
# When the `mochi` package sits beside this file (the source tree's python/
# directory), or in PREFIX/lib/python3.X/site-packages when this file is
# PREFIX/bin/bedrockctl-setup.sh (make install), that directory is added to
# PYTHONPATH for the command.
# $BEDROCKCTL_PYTHON picks the interpreter (default: python3).

if [ -n "${BASH_VERSION:-}" ]; then
    _bedrockctl_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
elif [ -n "${ZSH_VERSION:-}" ]; then
    _bedrockctl_dir=$(cd "$(dirname "${(%):-%x}")" && pwd)
else
    _bedrockctl_dir=
fi
BEDROCKCTL_PYTHONPATH=
if [ -n "$_bedrockctl_dir" ] && [ -d "$_bedrockctl_dir/mochi/bedrock/bedrockctl" ]; then
    BEDROCKCTL_PYTHONPATH=$_bedrockctl_dir
elif [ -n "$_bedrockctl_dir" ]; then
    # Installed by `make install`: PREFIX/bin/this file, the package in
    # PREFIX/lib/pythonX.Y/site-packages.
    for _bedrockctl_site in "$_bedrockctl_dir"/../lib/python3*/site-packages; do
        if [ -d "$_bedrockctl_site/mochi/bedrock/bedrockctl" ]; then
            BEDROCKCTL_PYTHONPATH=$(cd "$_bedrockctl_site" && pwd)
        fi
    done
    unset _bedrockctl_site
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
