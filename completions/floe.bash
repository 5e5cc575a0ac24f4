# bash completion for floe and floe-vault                                  -*- shell-script -*-
#
# Commands, subcommands, options and option values are read from the programs' own --help
# texts (cached per shell), so this file never lists them and cannot fall behind:
#   floe <TAB>                 commands          floe job <TAB>       subcommands
#   floe upload v f --<TAB>    that command's options (and the global ones)
#   --tier <TAB>               the values its usage line shows (Expedited|Standard|Bulk)
#   -o, --checkpoint, --file, --resume, ... <TAB>     file names
# Vault names and archive ids are not completed (that would need a request to the service).

declare -gA _floe_help_cache=()

# _floe_help PROG [WORDS...]: PROG WORDS... --help, remembered for the session.
_floe_help()
{
    local key="$*"
    if [[ -z ${_floe_help_cache[$key]+set} ]]; then
        _floe_help_cache[$key]=$("$@" --help 2>/dev/null)
    fi
    printf '%s\n' "${_floe_help_cache[$key]}"
}

# _floe_opts: reads a --help text on stdin; prints "OPTION KIND [VALUE...]" per option, KIND
# "flag" or "value" (followed by the values when the usage shows a|b|c).
_floe_opts()
{
    awk '
    {
        line = $0
        while (match(line, /(^|[^[:alnum:]_-])--?[[:alpha:]][[:alnum:]-]*/)) {
            tok = substr(line, RSTART, RLENGTH); sub(/^[^-]+/, "", tok)
            line = substr(line, RSTART + RLENGTH)
            kind = "flag"; vals = ""
            if (substr(line, 1, 1) == "=") {
                kind = "value"
            } else if (substr(line, 1, 1) == " " && match(line, /^ [^] )\[\047;,]+/)) {
                v = substr(line, 2, RLENGTH - 1)
                if (v ~ /^[[:upper:]]/ || v ~ /\|/) kind = "value"
                if (v ~ /^[[:alpha:]]+(\|[[:alpha:]]+)+$/) { gsub(/\|/, " ", v); vals = v }
            }
            if (!(tok in k) || k[tok] == "flag") k[tok] = kind
            if (vals != "") val[tok] = vals
        }
    }
    END { for (o in k) print o, k[o], val[o] }'
}

# _floe_words PROG CMD...: the subcommands usage lines show after "PROG CMD...".
_floe_words()
{
    local prog=$1; shift
    _floe_help "$prog" "$@" | grep -oE "floe( \[[^]]*\])? $* \[?[a-z][a-z|-]*" |
        awk '{print $NF}' | tr -d '[' | tr '|' '\n' | sort -u
}

# _floe_complete_opt_value PROG CUR PREV HELP: completes the value of option PREV, if it takes
# one. Returns 1 when PREV is not an option taking a value.
_floe_complete_opt_value()
{
    local cur=$2 prev=$3 help=$4 line kind vals
    line=$(printf '%s\n' "$help" | _floe_opts | awk -v o="$prev" '$1 == o')
    [[ -n $line ]] || return 1
    read -r _ kind vals <<<"$line"
    [[ $kind == value ]] || return 1
    case $prev in
        -o | --output | --checkpoint | --file | --resume | --port-file)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        --data-dir)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
        --tier) mapfile -t COMPREPLY < <(compgen -W "Expedited Standard Bulk" -- "$cur") ;;
        --status-code | --statuscode)
            mapfile -t COMPREPLY < <(compgen -W "InProgress Succeeded Failed" -- "$cur") ;;
        *)
            [[ -n $vals ]] && mapfile -t COMPREPLY < <(compgen -W "$vals" -- "$cur") ;;
    esac
    return 0
}

_floe()
{
    local cur prev prog=${COMP_WORDS[0]}
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()
    [[ $cur == *=* ]] && return 0

    local top global
    top=$(_floe_help "$prog")
    global=$(printf '%s\n' "$top" | sed '/^commands:/,$d')

    # the command path so far: words that are not options or option values
    local -a path=()
    local i w lvl_help=$top
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == -* ]]; then
            [[ $w == *=* ]] && continue
            local k
            k=$(printf '%s\n' "$top" "$lvl_help" | _floe_opts | awk -v o="$w" '$1 == o {print $2}' | head -1)
            [[ $k == value ]] && ((i++))
            continue
        fi
        if ((${#path[@]} == 0)) || _floe_words "$prog" "${path[@]}" | grep -qxF -- "$w"; then
            path+=("$w")
            lvl_help=$(_floe_help "$prog" "${path[@]}")
        else
            break # a positional argument (vault, file...): the command path is complete
        fi
    done

    local help=$top
    ((${#path[@]})) && help=$(_floe_help "$prog" "${path[@]}")
    _floe_complete_opt_value "$prog" "$cur" "$prev" "$help"$'\n'"$global" && return 0

    if [[ $cur == -* ]]; then
        local opts
        opts=$(printf '%s\n' "$help" "$global" | _floe_opts | awk '{print $1}' | sort -u)
        mapfile -t COMPREPLY < <(compgen -W "$opts --help" -- "$cur")
        return 0
    fi
    if ((${#path[@]} == 0)); then
        mapfile -t COMPREPLY < <(compgen -W "$(printf '%s\n' "$top" |
            awk '/^commands:/ {f = 1; next} f && /^  [a-z]/ {print $1}')" -- "$cur")
        return 0
    fi
    if ((i == COMP_CWORD)); then
        local subs
        subs=$(_floe_words "$prog" "${path[@]}")
        if [[ -n $subs ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
            return 0
        fi
    fi
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

_floe_vault()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} help
    COMPREPLY=()
    [[ $cur == *=* ]] && return 0
    help=$(_floe_help "${COMP_WORDS[0]}")
    _floe_complete_opt_value "${COMP_WORDS[0]}" "$cur" "$prev" "$help" && return 0
    mapfile -t COMPREPLY < <(compgen -W "$(printf '%s\n' "$help" | _floe_opts |
        awk '{print $1}') --help --version" -- "$cur")
}

complete -F _floe floe
complete -F _floe_vault floe-vault
