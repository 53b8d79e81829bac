# SIGKILL real coffer writers at random points and check that every change
# reported done survives, scrub is clean and nothing leaks: a short round
# of tests/torture/kill.sh (KILL_ITERS, default 15; KILL_SEED).
exec sh "$(dirname "$0")/../torture/kill.sh" "${KILL_ITERS:-15}" \
    ${KILL_SEED:+"$KILL_SEED"}
