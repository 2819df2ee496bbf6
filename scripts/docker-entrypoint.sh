#!/bin/sh
# docker-entrypoint.sh: container entrypoint that runs the image's command
# with the swpreload agent.
#
#   ENTRYPOINT ["/opt/swpreload/share/swpreload/docker-entrypoint.sh"]
#   CMD ["python3", "-m", "http.server", "8080"]
#
# It puts the agent library first in LD_PRELOAD (keeping every entry already
# there), unless SW_AGENT_DISABLE is true, and then execs the command, so the
# application becomes PID 1 and receives the container's signals directly.
# A missing library is a warning, never a reason to keep the application
# from starting: it then runs untraced.
#
# SW_PRELOAD_LIB overrides the library path; the default is
# /opt/swpreload/lib/libswpreload.so, then the CMake install layout
# (/opt/swpreload/lib/swpreload/, or lib/swpreload/ relative to this script).
# The SW_AGENT_* variables are read by the library itself.

if [ "$#" -eq 0 ]; then
  echo "docker-entrypoint.sh: usage: docker-entrypoint.sh CMD [ARGS...]" >&2
  echo "docker-entrypoint.sh: no command given (set CMD in the image or" \
    "pass one to docker run)" >&2
  exit 2
fi

sw_warn() {
  echo "docker-entrypoint.sh: warning: $*" >&2
}

# Prints the default library: the first candidate that exists, or the
# documented default so that the warning names it.
sw_default_lib() {
  sw_here=$(dirname -- "$0")
  for sw_c in /opt/swpreload/lib/libswpreload.so \
    /opt/swpreload/lib/swpreload/libswpreload.so \
    "$sw_here"/../../lib/swpreload/libswpreload.so \
    "$sw_here"/../../lib/*/swpreload/libswpreload.so; do
    if [ -f "$sw_c" ]; then
      echo "$sw_c"
      return
    fi
  done
  echo /opt/swpreload/lib/libswpreload.so
}

# Prints LD_PRELOAD with $1 first and the entries of $2 after it. The
# dynamic loader separates entries with spaces or colons; the result uses
# colons. The library is not listed twice, and another copy of it is
# dropped, since two copies would trace every call twice.
sw_compose() {
  sw_out=$1
  sw_old_ifs=$IFS
  IFS=' :'
  set -f
  for sw_e in $2; do
    [ -n "$sw_e" ] || continue
    [ "$sw_e" = "$1" ] && continue
    # -ef is not POSIX, but dash, bash and busybox sh all have it.
    # shellcheck disable=SC3013
    if [ -e "$sw_e" ] && [ "$sw_e" -ef "$1" ]; then
      continue
    fi
    if [ "${sw_e##*/}" = libswpreload.so ]; then
      sw_warn "dropping another copy of the agent from LD_PRELOAD: $sw_e"
      continue
    fi
    sw_out="$sw_out:$sw_e"
  done
  set +f
  IFS=$sw_old_ifs
  echo "$sw_out"
}

# True in a musl-only image (Alpine and the like): a musl loader and no
# glibc loader. The library is built for glibc, so it is not preloaded there.
sw_musl_only() {
  for sw_c in /lib/ld-musl-*.so.1; do
    [ -e "$sw_c" ] || return 1
  done
  for sw_c in /lib*/ld-linux* /lib*/ld64.so.* /lib/*/ld-linux*; do
    [ -e "$sw_c" ] && return 1
  done
  return 0
}

case ${SW_AGENT_DISABLE:-} in
  [Tt][Rr][Uu][Ee] | 1 | [Yy][Ee][Ss] | [Oo][Nn])
    sw_disabled=1
    ;;
  *)
    sw_disabled=0
    ;;
esac

if [ "$sw_disabled" = 0 ]; then
  sw_lib=${SW_PRELOAD_LIB:-$(sw_default_lib)}
  if [ ! -f "$sw_lib" ] || [ ! -r "$sw_lib" ]; then
    sw_warn "agent library $sw_lib not found; starting $1 without tracing"
  elif sw_musl_only; then
    sw_warn "musl-based image: the agent needs glibc; starting $1" \
      "without tracing"
  else
    # An absolute, normalised path: the application may change directory
    # before it starts children, and the library looks for its reporter
    # object in its own directory.
    sw_lib=$(cd -P -- "$(dirname -- "$sw_lib")" && pwd)/${sw_lib##*/}
    case $sw_lib in
      *[\ :]*)
        sw_warn "agent library path $sw_lib contains a space or a colon;" \
          "starting $1 without tracing"
        ;;
      *)
        LD_PRELOAD=$(sw_compose "$sw_lib" "${LD_PRELOAD:-}")
        export LD_PRELOAD
        ;;
    esac
  fi
fi

unset sw_disabled sw_lib sw_here sw_c sw_out sw_old_ifs sw_e
exec "$@"
