# Sourced by the launch scripts: --dry-run, and printing a command so that it can be pasted.

# One word as a shell reads it back: bare when nothing in it is special, else quoted.
quote_word() {
  local word=$1
  if [[ $word =~ ^[A-Za-z0-9_./=:,@%+-]+$ ]]; then
    printf '%s' "$word"
  elif [[ ! $word =~ [\"\$\`\\!] ]]; then
    printf '"%s"' "$word"
  else
    printf "'%s'" "${word//\'/\'\\\'\'}"
  fi
}

# The words quoted and joined by spaces: one command line.
quote_command() {
  local words=() word
  for word in "$@"; do words+=("$(quote_word "$word")"); done
  printf '%s\n' "${words[*]}"
}

# Sets DRY_RUN from a script's arguments: --dry-run alone (1), or none (0); anything
# else ends the script with status 2, naming it.
parse_dry_run() {
  DRY_RUN=0
  case "${1:-}" in
    --dry-run) DRY_RUN=1 ;;
    "") ;;
    *) printf '%s: unknown argument %s (the only one is --dry-run)\n' "$(basename "$0")" "$1" >&2
       exit 2 ;;
  esac
}

# Prints the command (DRY_RUN=1) or replaces this shell with it.
run_or_print() {
  if [[ ${DRY_RUN:-0} == 1 ]]; then
    quote_command "$@"
  else
    exec "$@"
  fi
}

usage_error() {
  printf '%s: %s\n' "$(basename "$0")" "$1" >&2
  exit 2
}
