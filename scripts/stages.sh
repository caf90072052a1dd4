# shellcheck shell=bash
# Stages of a long run (make test, make test-all), each timed, and the table of them printed when the
# run ends, whatever ends it: so the next change sees what each part costs. Source after common.sh.
#
#   stage NAME CMD...   runs CMD, records its wall time and outcome; returns CMD's status
#   stage_note NAME SECONDS TEXT
#                       records a row for work that ran in the background (the stack's start)
#   stages_report FILE  prints the table to stderr and writes it to FILE (called by the EXIT trap)

STAGE_ROWS=()
STAGES_FAILED=()
STAGES_T0=$EPOCHREALTIME

# seconds_since T0: wall seconds (one decimal) since an $EPOCHREALTIME reading.
seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

stage() {
    local name="$1" t0=$EPOCHREALTIME rc=0
    shift
    log "== $name"
    "$@" || rc=$?
    local took
    took="$(seconds_since "$t0")"
    if ((rc == 0)); then
        STAGE_ROWS+=("$name|$took|ok")
    else
        STAGE_ROWS+=("$name|$took|FAILED (exit $rc)")
        STAGES_FAILED+=("$name")
    fi
    log "== $name: $([[ $rc == 0 ]] && echo ok || echo FAILED) in ${took}s"
    return "$rc"
}

stage_note() { STAGE_ROWS+=("$1|$2|$3"); }

stages_report() {
    local file="$1" row name took result
    mkdir -p "$(dirname "$file")"
    {
        printf '\n%-58s %9s  %s\n' "stage" "seconds" "result"
        printf '%-58s %9s  %s\n' "-----" "-------" "------"
        for row in "${STAGE_ROWS[@]}"; do
            IFS='|' read -r name took result <<<"$row"
            printf '%-58s %9s  %s\n' "$name" "$took" "$result"
        done
        printf '%-58s %9s  %s\n' "total (wall)" "$(seconds_since "$STAGES_T0")" \
            "$( ((${#STAGES_FAILED[@]} == 0)) && echo passed || echo "FAILED: ${STAGES_FAILED[*]}")"
    } | tee "$file" >&2
}
