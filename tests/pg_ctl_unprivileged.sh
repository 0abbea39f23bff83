#!/bin/bash
# pg_ctl for pytest-postgresql's postgresql_proc (tests/store_fixtures.py) and benchmarks/bench_store.py.
# PostgreSQL refuses to run as root, and CI runs as root: then pg_ctl runs as an unprivileged user (ICTGIS_PG_USER,
# default postgres), and the data folder and log file it is given (-D/--pgdata, -l) are replaced by ones of that
# user under /tmp/ictgis-pg-<digest of the given path> (removed again by `stop`). They cannot stay where pytest puts
# them: every pytest session resets /tmp/pytest-of-root to mode 0700, which would lock the server out of its own
# files while it runs. As another user, pg_ctl runs as is.
PG_CTL="${ICTGIS_PG_CTL:-/usr/lib/postgresql/15/bin/pg_ctl}"
if [ "$(id -u)" != 0 ]; then exec "$PG_CTL" "$@"; fi
USER_NAME="${ICTGIS_PG_USER:-postgres}"
args=()
prev=""
datadirs=()
for arg in "$@"; do
  case "$prev" in
    -D|--pgdata|-l|--log)
      home="/tmp/ictgis-pg-$(printf '%s' "$(dirname "$arg")" | md5sum | cut -c1-16)"
      mapped="$home/$(basename "$arg")"
      if [ "$1" = initdb ] || [ "$1" = start ]; then  # status and stop after the end must not recreate it
        mkdir -p "$home" && chown "$USER_NAME" "$home" && chmod 700 "$home"
        if [ "$prev" = -l ] || [ "$prev" = --log ]; then
          touch "$mapped" && chown "$USER_NAME" "$mapped"
        else
          mkdir -p "$arg"  # pytest-postgresql looks for the folder it named
        fi
      fi
      if [ "$prev" != -l ] && [ "$prev" != --log ]; then datadirs+=("$home"); fi
      arg="$mapped"
      ;;
  esac
  args+=("$arg")
  prev="$arg"
done
cd /
runuser -u "$USER_NAME" -- "$PG_CTL" "${args[@]}"
status=$?
if [ "$1" = stop ] && [ $status = 0 ]; then
  for home in "${datadirs[@]}"; do rm -rf "$home"; done
fi
exit $status
