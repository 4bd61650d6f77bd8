# steps.sh -- sourced by the shell test drivers (tests/cmake/run-examples.sh,
# tests/bedrock/run.sh): independent checks run in the background, at most
# one per core, reported in the order they were started.
#
# The driver defines pass NAME, fail NAME, show LOG... and TIMEOUT (seconds
# per command) before calling these.
#
#   bg_step NAME LOG COMMAND...  runs COMMAND (under TIMEOUT, unless it is a
#                                shell function of the driver: those set their
#                                own) with its output in LOG
#   report_steps                 waits for them all; passes or fails each by
#                                NAME, showing the LOG of a failure

STEPS_JOBS=$(nproc 2>/dev/null || echo 2)
STEPS_NAMES=()
STEPS_LOGS=()

bg_step() {
    local name=$1 log=$2
    shift 2
    while [ "$(jobs -rp | wc -l)" -ge "$STEPS_JOBS" ]; do wait -n || true; done
    STEPS_NAMES+=("$name")
    STEPS_LOGS+=("$log")
    if declare -F "$1" >/dev/null; then
        ( "$@" >"$log" 2>&1; echo $? >"$log.rc" ) &
    else
        ( timeout -k 5 "$TIMEOUT" "$@" >"$log" 2>&1; echo $? >"$log.rc" ) &
    fi
}

report_steps() {
    local i
    wait
    for i in "${!STEPS_NAMES[@]}"; do
        if [ "$(cat "${STEPS_LOGS[$i]}.rc" 2>/dev/null)" = 0 ]; then
            pass "${STEPS_NAMES[$i]}"
        else
            fail "${STEPS_NAMES[$i]}"
            show "${STEPS_LOGS[$i]}"
        fi
    done
    STEPS_NAMES=()
    STEPS_LOGS=()
}
